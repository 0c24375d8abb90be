import sys
import warnings

# google-api-core warns about Python 3.11's end of life on every import of the
# GCS client that Beam's FileSystems loads; it says nothing about our run.
warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\..*")

from pipeline.cli import main  # noqa: E402

sys.exit(main())
