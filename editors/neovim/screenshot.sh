#!/usr/bin/env bash
# How docs/editors-neovim.png is made: Neovim (Debian's, built-in LSP client) runs
# `playbook lsp` on a copy of playbooks/new_customer.pb with one typo, in tmux; the pane is
# captured with its colours (tmux capture-pane -e), turned into HTML by aha and photographed
# by headless Chromium. Needs: apt-get install neovim tmux aha chromium fonts-noto-cjk.
#   bash editors/neovim/screenshot.sh [PYTHON]     # PYTHON: one that can import playbook
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PYTHON="${1:-python3}"
WORK="$(mktemp -d)"
mkdir "$WORK/shop"
sed 's/if in 高意向 { dm 新客礼 }/if in 高意向 { dm 新客利 }/' "$ROOT/playbooks/new_customer.pb" > "$WORK/shop/new_customer.pb"
cat > "$WORK/init.lua" <<LUA
vim.o.number = true
vim.o.signcolumn = "yes"
vim.cmd("highlight NormalFloat ctermbg=238 ctermfg=255")
vim.cmd("autocmd BufRead,BufNewFile *.pb set filetype=playbook")
local client_id = vim.lsp.start_client({
  name = "playbook",
  cmd = { "$PYTHON", "-m", "playbook", "lsp" },
  cmd_env = { PYTHONPATH = "$ROOT", PLAYBOOK_LANG = "en" },
  root_dir = "$WORK/shop",
  init_options = { contacts = "$ROOT/playbooks/contacts.csv" },
})
vim.cmd("autocmd FileType playbook lua vim.lsp.buf_attach_client(0, " .. client_id .. ")")
LUA
SESSION="playbook-shot-$$"
tmux new-session -d -s "$SESSION" -x 112 -y 38 "nvim -u $WORK/init.lua $WORK/shop/new_customer.pb"
sleep 6                                                   # the server starts and publishes
tmux send-keys -t "$SESSION" ':33' Enter '0'
tmux send-keys -t "$SESSION" -l 'f高'                      # the cursor on the segment 高意向
tmux send-keys -t "$SESSION" ':lua vim.lsp.buf.hover()' Enter
sleep 3
tmux capture-pane -e -p -t "$SESSION" > "$WORK/pane.ansi"
tmux kill-session -t "$SESSION"
aha --black --title "playbook lsp in Neovim" < "$WORK/pane.ansi" \
  | sed 's|</head>|<style>body{margin:0;padding:10px} pre{font-family:"Noto Sans Mono CJK SC",monospace;font-size:15px;line-height:1.3;margin:0}</style></head>|' \
  > "$WORK/pane.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1020,760 \
  --screenshot="$ROOT/docs/editors-neovim.png" "file://$WORK/pane.html" 2>/dev/null
echo "$ROOT/docs/editors-neovim.png"
