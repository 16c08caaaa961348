"""The language's reserved words (`keywords()`), read off the grammar so the two never disagree.

The reading lives next to the grammar it reads (`syntax.parser.keywords`); this module is the
name the compiler and tests import it by.
"""

from playbook.syntax.parser import keywords

__all__ = ["keywords"]
