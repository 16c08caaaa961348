"""Simplified Chinese for click's own strings (usage, option lists, errors), by msgid.

click translates its strings with `gettext` (`from gettext import gettext as _` in each of
its modules); `playbook.cli.click_i18n` points those at this table when the language is
Chinese. Keys are click's msgids exactly, placeholders included (`{name!r}` stays as is);
plural msgids map the singular to a (singular, plural) pair. A test lists every msgid in
the installed click and fails on one missing here, so a click upgrade is noticed.
"""

from __future__ import annotations

CLICK_ZH: dict[str, str] = {
    "%(prog)s, version %(version)s": "%(prog)s，版本 %(version)s",
    "(dynamic)": "（动态）",
    "Aborted!": "已中止！",
    "Argument {name!r} takes {nargs} values.": "参数 {name!r} 需要 {nargs} 个值。",
    "Choice({choices})": "Choice({choices})",
    "Choose from:\n\t{choices}": "可选：\n\t{choices}",
    "Commands": "命令",
    "Confirm the action without prompting.": "不再询问，直接确认。",
    "Could not open file {filename!r}: {message}": "无法打开文件 {filename!r}：{message}",
    "Do you want to continue?": "要继续吗？",
    "Error: The two entered values do not match.": "错误：两次输入的值不一致。",
    "Error: invalid input": "错误：输入无效",
    "Error: {message}": "错误：{message}",
    "Invalid start character for option ({option})": "选项的开头字符无效（{option}）",
    "Invalid value for {param_hint}: {message}": "{param_hint} 的值无效：{message}",
    "Invalid value: {message}": "值无效：{message}",
    "Missing argument": "缺少参数",
    "Missing command.": "缺少命令。",
    "Missing option": "缺少选项",
    "Missing parameter": "缺少参数",
    "Missing parameter: {param_name}": "缺少参数：{param_name}",
    "Missing {param_type}": "缺少{param_type}",
    "Name '{name}' defined twice": "名字 '{name}' 定义了两次",
    "No such command {name!r}.": "没有 {name!r} 这个命令。",
    "No such option {name!r}.": "没有 {name!r} 这个选项。",
    "Option {name!r} does not take a value.": "选项 {name!r} 不接受值。",
    "Options": "选项",
    "Positional arguments": "位置参数",
    "Press any key to continue...": "按任意键继续……",
    "Repeat for confirmation": "再输入一次以确认",
    "Show the version and exit.": "显示版本并退出。",
    "Show this message and exit.": "显示本帮助并退出。",
    "Try '{command} {option}' for help.": "运行 '{command} {option}' 查看帮助。",
    "Unknown color {colour!r}": "未知的颜色 {colour!r}",
    "Unknown standard stream '{name}'": "未知的标准流 '{name}'",
    "Usage:": "用法:",
    "Value must be an iterable.": "值必须是可迭代的。",
    "default: {default}": "默认：{default}",
    "deprecated": "已弃用",
    "directory": "目录",
    "env var: {var}": "环境变量：{var}",
    "file": "文件",
    "path": "路径",
    "required": "必填",
    "unknown error": "未知错误",
    "{editor}: Editing failed": "{editor}：编辑失败",
    "{editor}: Editing failed: {e}": "{editor}：编辑失败：{e}",
    "{name} {filename!r} does not exist.": "{name} {filename!r} 不存在。",
    "{name} {filename!r} is a directory.": "{name} {filename!r} 是一个目录。",
    "{name} {filename!r} is a file.": "{name} {filename!r} 是一个文件。",
    "{name} {filename!r} is not executable.": "{name} {filename!r} 不可执行。",
    "{name} {filename!r} is not readable.": "{name} {filename!r} 不可读。",
    "{name} {filename!r} is not writable.": "{name} {filename!r} 不可写。",
    "{value!r} is not a valid UUID.": "{value!r} 不是有效的 UUID。",
    "{value!r} is not a valid {number_type}.": "{value!r} 不是有效的数字。",
    "{value} is not in the range {range}.": "{value} 不在范围 {range} 之内。",
    "{value!r} is not a valid boolean. Recognized values: {states}": "{value!r} 不是有效的布尔值。可以写：{states}",
    "DeprecationWarning: The command {name!r} is deprecated.{extra_message}": "弃用提示：命令 {name!r} 已弃用。{extra_message}",
    "DeprecationWarning: The {param_type} {name!r} is deprecated.{extra_message}": (
        "弃用提示：{param_type} {name!r} 已弃用。{extra_message}"
    ),
}

# singular msgid -> (Chinese singular, Chinese plural)
CLICK_ZH_PLURAL: dict[str, tuple[str, str]] = {
    "Got unexpected extra argument ({args})": ("多了一个参数（{args}）", "多了几个参数（{args}）"),
    "Takes {nargs} values but 1 was given.": (
        "需要 {nargs} 个值，但只给了 1 个。",
        "需要 {nargs} 个值，但给了 {len} 个。",
    ),
    "Did you mean {possibility}?": ("你是不是想写 {possibility}？", "（你是不是想写其中之一：{possibilities}？）"),
    "Option {name!r} requires an argument.": ("选项 {name!r} 需要一个值。", "选项 {name!r} 需要 {nargs} 个值。"),
    "{value!r} is not {choice}.": ("{value!r} 不是 {choice}。", "{value!r} 不在 {choices} 之中。"),
    "{value!r} does not match the format {format}.": (
        "{value!r} 不符合格式 {format}。",
        "{value!r} 不符合以下任一格式：{formats}。",
    ),
    "{len_type} values are required, but {len_value} was given.": (
        "需要 {len_type} 个值，但给了 {len_value} 个。",
        "需要 {len_type} 个值，但给了 {len_value} 个。",
    ),
}
