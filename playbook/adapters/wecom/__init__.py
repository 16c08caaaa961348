"""WeCom (企业微信) adapter: callback crypto (crypto.py) and callback events (callbacks.py).

See docs/adapters/wecom.md.
"""
