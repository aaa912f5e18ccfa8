"""``python -m simulator`` is the same as the ``simulate`` command."""
from .cli import exit_now, main

exit_now(main())
