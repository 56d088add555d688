from services.common.migrations import run_env
from services.progress.models import Base

run_env("progress", Base.metadata)
