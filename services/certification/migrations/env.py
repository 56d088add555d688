from services.certification.models import Base
from services.common.migrations import run_env

run_env("certification", Base.metadata)
