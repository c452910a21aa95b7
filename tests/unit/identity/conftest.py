from __future__ import annotations

from core.security.hashing import use_fast_hashing

use_fast_hashing()
