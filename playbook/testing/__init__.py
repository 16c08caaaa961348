"""Test helpers that users of playbook may want too (e.g. a WeCom-compatible server)."""
