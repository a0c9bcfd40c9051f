"""viewcomfy-ui: run `python app.py --help` for the options."""

import os
import sys
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from dotenv import load_dotenv

load_dotenv(Path(__file__).with_name(".env"), override=False)

from viewcomfy_ui.ui.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
