from services.common.migrations import run_env
from services.certification.models import Base

run_env("certification", Base.metadata)
