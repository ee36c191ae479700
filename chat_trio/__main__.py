"""``python -m chat_trio`` is the ``chat-trio`` command."""

import sys

from chat_trio.cli import main

sys.exit(main())
