"""viewcomfy-ui: run `python app.py --help` for the options (installed: `viewcomfy-ui`)."""

import sys
from pathlib import Path

from viewcomfy_ui.__main__ import app

if __name__ == "__main__":
    sys.exit(app(env_file=Path(__file__).with_name(".env")))
