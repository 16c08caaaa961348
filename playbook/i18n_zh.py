"""Simplified Chinese messages: English template → Chinese template (see playbook.i18n).

Both sides are `str.format` templates with the same `{placeholders}`; a test checks that.
Keywords of the language (dm, task, segment, journey, day, at, on, every, …), names,
code values and warning codes stay as written. Terms used throughout:

    segment 客群 · content 内容 · journey 旅程 · group 群 · Moments 朋友圈 ·
    rotation 轮询任务 · service level 服务标准 · limit 频次限制 · quiet hours 免打扰时段 ·
    dm 私聊 · task 任务 · tag 标签 · playbook 剧本 · split 分流 · arm 组 · placeholder 占位符
"""

from __future__ import annotations

ZH: dict[str, str] = {
    # ---- playbook.diagnostics ------------------------------------------------------------
    "error": "错误",
    "warning": "警告",
    "{location}: {severity}: {message}": "{location}: {severity}：{message}",
    "did you mean '{name}'?": "你是不是想写 '{name}'？",
    # ---- playbook.compiler (files) ----------------------------------------------------------
    "no such file or directory": "文件或目录不存在",
    "this directory has no .pb files": "这个目录里没有 .pb 文件",
    # ---- playbook.compiler.build: what each declaration is called ---------------------------
    "segment": "客群",
    "content": "内容",
    "journey": "旅程",
    "group": "群",
    "Moments calendar": "朋友圈日历",
    "rotation": "轮询任务",
    "service level": "服务标准",
    # ---- playbook.compiler.build: declarations and settings ---------------------------------
    "this playbook sends 1-on-1 messages but sets no quiet hours": "这个剧本会发私聊消息，但没有设置免打扰时段",
    "add a line like: {example}": "加一行，例如：{example}",
    "'{setting}' is set more than once": "'{setting}' 设置了不止一次",
    "it is already set at {place}": "已经在 {place} 设置过",
    "use an IANA name like {example}": "请使用 IANA 时区名，例如 {example}",
    "unknown timezone '{name}'": "未知的时区 '{name}'",
    "the quiet window starts and ends at the same time": "免打扰时段的开始和结束时间相同",
    "'{name}' is a keyword and cannot name a {kind}": "'{name}' 是关键字，不能用作{kind}的名字",
    "pick another name (Chinese names work well)": "换个名字吧（用中文名就很好）",
    "{kind} '{name}' is declared twice": "{kind} '{name}' 声明了两次",
    "the first one is at {place}": "第一次声明在 {place}",
    # ---- limits ------------------------------------------------------------------------------
    "a limit must allow at least 1": "频次限制至少要允许 1 次",
    "to send nothing on a channel, remove its steps": "如果某个渠道一条都不想发，请删掉对应的步骤",
    "'{limit}' is given twice": "频次限制 '{limit}' 写了两次",
    "the other one ({count}) is at {place}; keep one": "另一条（{count}）在 {place}；只保留一条",
    "{count} per {period} can never be reached: {other_count} per {other_period} is lower": (
        "{count} per {period} 永远达不到：{other_count} per {other_period} 的限制更低"
    ),
    # ---- segments and expressions ---------------------------------------------------------------
    "segment '{name}' refers to itself: {cycle}": "客群 '{name}' 引用了自己：{cycle}",
    "a segment cannot be defined in terms of itself": "客群不能用它自己来定义",
    "unknown segment '{name}'": "未知的客群 '{name}'",
    "'{name}' is not a field": "'{name}' 不是一个字段",
    "use a contact field (spent), account.<field> or event.<field>": (
        "请使用联系人字段（如 spent）、account.<字段> 或 event.<字段>"
    ),
    "'{name}' has no event to read from here": "'{name}' 在这里没有事件可读",
    "event.* can be used where an event is at hand: on/exit on/goal/wait for … where, "
    "and in journeys entered on an event": (
        "event.* 只能用在有事件的地方：on / exit on / goal / wait for … 的 where 条件里，以及由事件触发进入的旅程中"
    ),
    # ---- content and placeholders ---------------------------------------------------------------
    "'{key}' is given twice in content '{name}'": "内容 '{name}' 里的 '{key}' 写了两次",
    "content '{name}' has both a link and a mini-program": "内容 '{name}' 同时带了链接和小程序",
    "split it into two contents": "请拆成两个内容",
    "'{key}' describes a link or a mini-program, and '{name}' has neither": (
        "'{key}' 是用来描述链接或小程序的，但 '{name}' 两者都没有"
    ),
    "'{key}' belongs to a mini-program, and '{name}' has none": "'{key}' 属于小程序，但 '{name}' 没有小程序",
    "the mini-program in '{name}' needs a '{key}'": "'{name}' 里的小程序缺少 '{key}'",
    "content '{name}' is empty": "内容 '{name}' 是空的",
    "give it a text, an image or a link": "请给它加上文字、图片或链接",
    "unknown content '{name}'": "未知的内容 '{name}'",
    "'{placeholder}' in content '{name}' can never be filled here: no event starts this": (
        "内容 '{name}' 里的 '{placeholder}' 在这里永远取不到值：这里不是由事件触发的"
    ),
    "give it a fallback like {example} or use it only in journeys started by an event": (
        "给它一个默认值，例如 {example}，或者只在由事件触发的旅程里使用"
    ),
    "'{placeholder}' can never be filled here: no event starts this": (
        "'{placeholder}' 在这里永远取不到值：这里不是由事件触发的"
    ),
    "give it a fallback like {example}": "给它一个默认值，例如 {example}",
    "content '{name}' is never sent": "内容 '{name}' 从来没有被发送",
    "no contact in the data has a field '{name}'": "数据里没有任何联系人有字段 '{name}'",
    "known fields: {fields}": "已知的字段：{fields}",
    "'{name}' is not a built-in event": "'{name}' 不是内置事件",
    "{suggestion} (custom event names are fine)": "{suggestion}（自定义事件名也可以）",
    # ---- schedules ----------------------------------------------------------------------------
    "'every' with a duration repeats within a day; it must be shorter than 1d": (
        "'every' 加时长表示在一天之内重复，时长必须短于 1d"
    ),
    "for daily or weekly, write '{daily}' or '{weekly}'": "要每天或每周重复，请写 '{daily}' 或 '{weekly}'",
    "the 'between' window must end after it starts": "'between' 时段的结束时间必须晚于开始时间",
    "for example {example} is 10:00 on weekdays": "例如 {example} 表示每个工作日的 10:00",
    "a weekday range runs forward, like {example}": "星期范围要从前往后写，例如 {example}",
    "a cron expression has five fields: minute hour day-of-month month day-of-week": (
        "cron 表达式有五个字段：分 时 日 月 星期"
    ),
    "'{expr}' is not a valid cron expression": "'{expr}' 不是有效的 cron 表达式",
    # ---- journeys -------------------------------------------------------------------------------
    "settings of a journey (on, exit, reenter, goal, priority) come before its steps": (
        "旅程的设置（on、exit、reenter、goal、priority）要写在步骤之前"
    ),
    "move this line above the first step": "把这一行移到第一个步骤之前",
    "'{clause}' is given twice in journey '{name}'": "旅程 '{name}' 里的 '{clause}' 写了两次",
    "journey '{name}' has no entry": "旅程 '{name}' 没有入口",
    "add one of: on EVENT, on enter SEGMENT, every … for SEGMENT, at DATETIME for SEGMENT": (
        "请加上其中一种：on 事件、on enter 客群、every … for 客群、at 日期时间 for 客群"
    ),
    "journey '{name}' has {count} entries; a journey has exactly one": (
        "旅程 '{name}' 有 {count} 个入口；一个旅程只能有一个入口"
    ),
    "journey '{name}' has no steps": "旅程 '{name}' 没有任何步骤",
    # ---- groups ---------------------------------------------------------------------------------
    "group '{name}' says this twice": "群 '{name}' 把这一项写了两次",
    "for example: {example}, or {other}": "例如：{example}，或 {other}",
    "for example: {example}": "例如：{example}",
    "name the content sent to invite each member, for example: {example}": (
        "写明邀请每位成员时发送的内容，例如：{example}"
    ),
    "group '{name}' has no '{clause}'": "群 '{name}' 缺少 '{clause}'",
    "a group needs room for at least 2 members": "一个群至少要能容纳 2 人",
    # ---- Moments, rotations, service levels -----------------------------------------------------
    "Moments calendar '{name}' posts nothing": "朋友圈日历 '{name}' 没有安排任何发布",
    "rotation '{name}' says this twice": "轮询任务 '{name}' 把这一项写了两次",
    "rotation '{name}' has no '{clause}'": "轮询任务 '{name}' 缺少 '{clause}'",
    "a rotation period is a whole number of days, like {example}": "轮询周期必须是整数天，例如 {example}",
    "the 'during' window must end after it starts (it cannot wrap midnight)": (
        "'during' 时段的结束时间必须晚于开始时间（不能跨过午夜）"
    ),
    # ---- practice lints -------------------------------------------------------------------------
    "this split has no goal to measure which arm works better": "这个分流没有设目标，无法衡量哪一组效果更好",
    "add a goal to the journey, e.g. {example}": "给旅程加一个目标，例如 {example}",
    "journey '{name}' can send {count} dm to one contact in its first 3 days": (
        "旅程 '{name}' 在前 3 天里可能给同一个联系人发 {count} 条私聊"
    ),
    "more than 3 in 3 days reads as spam (刷屏); space them out": "3 天内超过 3 条就是刷屏了，请拉开间隔",
    "Moments calendar '{name}' posts up to {count} times on some days": (
        "朋友圈日历 '{name}' 有些天最多会发 {count} 条"
    ),
    "more than 3 posts a day crowd friends' feeds; spread them out": (
        "一天发超过 3 条朋友圈会刷屏好友的动态，请分散到不同的日子"
    ),
    # ---- steps ----------------------------------------------------------------------------------
    "this step can never run: the step before it exits the journey": "这一步永远不会执行：上一步已经退出了旅程",
    "day {day} comes after day {previous}: it will run right after the previous step": (
        "day {day} 写在 day {previous} 之后：它会紧接着上一步执行"
    ),
    "time never goes backwards; reorder the steps or fix the day number": "时间不会倒流；请调整步骤顺序或改正天数",
    "steps in a group can only post into the group or create a task": "群里的步骤只能在群里发内容（post）或创建任务（task）",
    "'{keyword}' is for groups and Moments": "'{keyword}' 只能用在群和朋友圈里",
    "to message one contact, use: {example}": "要给单个联系人发消息，请用：{example}",
    "unknown group '{name}'": "未知的群 '{name}'",
    "the arms of this split add up to {total}%, not 100%": "这个分流各组的比例加起来是 {total}%，不是 100%",
    "make the percentages add up to 100": "请让各组比例加起来等于 100",
    "an arm needs a share above 0%": "每一组的比例都要大于 0%",
    # ---- playbook.compiler.templates ------------------------------------------------------------
    "'{brace}' is never closed": "'{brace}' 没有闭合",
    "'{brace}' has no opening '{opening}'": "'{brace}' 前面没有对应的 '{opening}'",
    "write {open} or {close} for a literal brace": "要写花括号本身，请用 {open} 或 {close}",
    "'{placeholder}' is not a placeholder": "'{placeholder}' 不是有效的占位符",
    "use {{field}}, {{account.field}}, {{event.field}} or {{field|fallback}}": (
        "请使用 {{字段}}、{{account.字段}}、{{event.字段}} 或 {{字段|默认值}}"
    ),
    "'{placeholder}' reaches into '{scope}'": "'{placeholder}' 试图读取 '{scope}' 里的数据",
    "only contact fields, account.<field> and event.<field> can be used": (
        "只能使用联系人字段、account.<字段> 和 event.<字段>"
    ),
    # ---- playbook.compiler.graph (picture labels) -----------------------------------------------
    "yes": "是",
    "no": "否",
    "timed out": "超时",
    "end": "结束",
    # ---- playbook.data.fields -------------------------------------------------------------------
    "cannot read file: {reason}": "无法读取文件：{reason}",
    "this file is not UTF-8 text": "这个文件不是 UTF-8 编码的文本",
    "line {number} is not JSON: {reason}": "第 {number} 行不是合法的 JSON：{reason}",
    # ---- playbook.cli.main ----------------------------------------------------------------------
    "Private-domain customer operations (私域运营) as code.": "用代码做私域运营。",
    "Commands": "命令",
    "Language of messages: en or zh (default: PLAYBOOK_LANG, then the locale).": (
        "提示信息的语言：en 或 zh（默认依次看 PLAYBOOK_LANG 和系统语言环境）。"
    ),
    "Parse, compile and lint playbooks; exit 1 on errors.": "解析、编译并检查剧本；有错误时退出码为 1。",
    "Rewrite playbooks in the canonical layout.": "按标准格式重排剧本。",
    "Print the schedule graph (a tree, or --json).": "打印调度图（树形，或 --json）。",
    "The schedule graph as Mermaid or Graphviz source.": "以 Mermaid 或 Graphviz 源码输出调度图。",
    "Dry-run: who gets what, when, from which account. Nothing is sent.": (
        "演练：谁在什么时候、由哪个账号收到什么。不会真的发送。"
    ),
    # ---- playbook.cli.check ---------------------------------------------------------------------
    "Parse, compile and lint playbooks.": "解析、编译并检查剧本。",
    "A contacts file (CSV or JSON Lines): unknown fields become warnings.": (
        "联系人文件（CSV 或 JSON Lines）：剧本用到、文件里却没有的字段会给出警告。"
    ),
    "Silence a warning code (repeatable).": "不再提示某个警告代码（可重复使用）。",
    "Output: text for people, json for scripts.": "输出格式：text 给人看，json 给脚本用。",
    "✓ {path}: {version}": "✓ {path}：通过，版本 {version}",
    "✓ {path}: {version} ({warnings})": "✓ {path}：通过，版本 {version}（{warnings}）",
    "✗ {path}: {errors}": "✗ {path}：{errors}",
    "{errors}, {warnings} in {playbooks}": "共检查 {playbooks}：{errors}，{warnings}",
    "{n} error": "{n} 个错误",
    "{n} errors": "{n} 个错误",
    "{n} warning": "{n} 个警告",
    "{n} warnings": "{n} 个警告",
    "{n} playbook": "{n} 个剧本",
    "{n} playbooks": "{n} 个剧本",
    # ---- playbook.cli.compile, playbook.cli.graph, playbook.cli.tree ----------------------------
    "Print the schedule graph of each playbook.": "打印每个剧本的调度图。",
    "Stable JSON (sorted keys, ir_version, version id).": "稳定的 JSON（键已排序，含 ir_version 和版本号）。",
    "Print the schedule graph as Mermaid or Graphviz dot source.": "以 Mermaid 或 Graphviz dot 源码输出调度图。",
    "mermaid for Markdown and Feishu docs, dot for Graphviz.": "mermaid 适用于 Markdown 和飞书文档，dot 适用于 Graphviz。",
    "settings": "设置",
    "segments": "客群",
    "contents": "内容",
    "steps": "步骤",
    "no quiet hours": "未设免打扰时段",
    "all contacts of the account": "该账号的全部联系人",
    # ---- playbook.cli.plan ----------------------------------------------------------------------
    "Dry-run playbooks over contacts and events: the full timeline of touches.": (
        "用联系人和事件数据演练剧本：列出每一次触达的完整时间线。"
    ),
    "Contacts: CSV (tags split on '{separator}') or JSON Lines.": "联系人：CSV（tags 用 '{separator}' 分隔）或 JSON Lines。",
    "Staff accounts: CSV or JSON Lines with id, name, ….": "员工账号：CSV 或 JSON Lines，含 id、name 等字段。",
    "Events: JSON Lines {fields}.": "事件：JSON Lines，每行形如 {fields}。",
    "Start (local time of the playbook), default today 00:00.": "开始时间（剧本时区的当地时间），默认今天 00:00。",
    "Horizon in days.": "演练多少天。",
    "Draw events: {example}.": "按概率模拟事件：{example}。",
    "Seed for --simulate.": "--simulate 的随机种子。",
    "Apply an adapter's platform limits (e.g. wecom).": "套用某个适配器的平台限制（如 wecom）。",
    "Show this contact's own timeline with rendered text.": "显示这个联系人自己的时间线，包括渲染后的文案。",
    "Any bad data row is fatal.": "数据里只要有一行有问题就中止。",
    "table for people, json for scripts, html for sharing.": "table 给人看，json 给脚本用，html 方便分享。",
    "Write the output to this file instead of the terminal.": "把输出写入这个文件，而不是打印到终端。",
    "--strict: the data has problems; nothing planned": "--strict：数据有问题，未做演练",
    "no contact '{id}' in the plan": "演练里没有联系人 '{id}'",
    "planning": "演练中",
    # ---- playbook.cli.importer (and its line in playbook.cli.main) -------------------------------
    "Import contacts or accounts into the store (re-run to update).": "把联系人或员工账号导入存储（重复运行即更新）。",
    "Import contacts (or, with --accounts, staff accounts) into the store; re-run to update.": (
        "把联系人（加 --accounts 则为员工账号）导入存储；重复运行即更新。"
    ),
    "The store: a SQLite file or a database URL (default: ${env}, else {default}).": (
        "存储：SQLite 文件或数据库 URL（默认取 ${env}，没有则用 {default}）。"
    ),
    "The files are staff accounts, not contacts.": "这些文件是员工账号，而不是联系人。",
    "Timezone of times without an offset (default: the active playbook's, else {tz}).": (
        "没写时区的时间按哪个时区理解（默认取当前启用剧本的时区，没有则用 {tz}）。"
    ),
    "Any bad data row is fatal: nothing is imported.": "数据里只要有一行有问题就中止：什么都不导入。",
    "table for people, json for scripts.": "table 给人看，json 给脚本用。",
    "import into {db}": "导入到 {db}",
    "file": "文件",
    "rows": "行数",
    "inserted": "新增",
    "updated": "更新",
    "unchanged": "未变",
    "problems": "有问题",
    "--strict: the data has problems; nothing imported": "--strict：数据有问题，未导入任何内容",
    "importing": "导入中",
    "cannot use the store: {reason}": "无法使用存储：{reason}",
    "unknown timezone '{tz}'": "未知的时区 '{tz}'",
    "would reformat {path}": "需要重新排版 {path}",
    "reformatted {path}": "已重新排版 {path}",
    # ---- playbook.syntax.parser: values that make no sense -----------------------------------
    "this is nested more than {n} levels deep": "这里嵌套超过了 {n} 层",
    "split it into several segments or simpler steps": "请拆成几个客群，或者写成更简单的步骤",
    "the number '{number}' is too large": "数字 '{number}' 太大了",
    "numbers have at most {n} digits": "数字最多 {n} 位",
    "unknown escape '\\{char}' in text": "文字里有未知的转义 '\\{char}'",
    'write \\\\ for a backslash, \\" for a quote, \\n for a new line': ('反斜杠写成 \\\\，引号写成 \\"，换行写成 \\n'),
    "a limit must be a whole number": "频次限制必须是整数",
    "a day number must be a whole number": "day 后面的天数必须是整数",
    "a group size must be a whole number": "群人数必须是整数",
    "a day of the month must be a whole number": "每月的几号必须是整数",
    "duration '{duration}' must list its units largest first, each once": (
        "时长 '{duration}' 的单位要从大到小写，每个单位只写一次"
    ),
    "write it like 1d12h or 90m": "例如写成 1d12h 或 90m",
    "a duration must be longer than zero": "时长必须大于零",
    "'{time}' is not a time of day": "'{time}' 不是有效的时刻",
    "expected a time between 00:00 and 23:59": "时间应在 00:00 到 23:59 之间",
    "'{date}' is not a date on the calendar": "日历上没有 '{date}' 这一天",
    "expected a date like 2026-12-10": "应为日历上存在的日期，例如 2026-12-10",
    "'{day}' is not a day of the month": "'{day}' 不是每月的有效日期",
    "expected a number from 1 to 31": "应为 1 到 31 之间的数字",
    # ---- playbook.syntax.parser: syntax errors ------------------------------------------------
    "the file ends inside a block: a '}}' is missing": "文件结束时还有花括号没有闭合：缺少 '}}'",
    "this declaration ends inside a block: a '}}' is missing": "这个声明结束时还有花括号没有闭合：缺少 '}}'",
    "close every '{{' with a '}}'": "每个 '{{' 都要有对应的 '}}'",
    "the file ends too early": "文件提前结束了",
    "the file ends too early: expected {expected}": "文件提前结束了：这里应为 {expected}",
    "this declaration ends too early": "这个声明没写完就结束了",
    "this declaration ends too early: expected {expected}": "这个声明没写完就结束了：这里应为 {expected}",
    "full-width '{text}' (read as '{read}') does not fit here: expected {expected}": (
        "全角的 '{text}'（按 '{read}' 理解）不能放在这里：这里应为 {expected}"
    ),
    "expected {expected}, found {found}": "这里应为 {expected}，但写的是 {found}",
    "expected {expected}": "这里应为 {expected}",
    "this text has no closing quote": "这段文字缺少结尾的引号",
    'close it on the same line, or use """…""" for several lines': '请在同一行内写上结尾的引号；多行文字请用 """…"""',
    "unexpected '{char}'": "这里不应出现 '{char}'",
    "unexpected character '{char}'": "这里不应出现字符 '{char}'",
    "use '{char}'": "请用 '{char}'",
    # ---- playbook.syntax.parser: what the parser expected ('expected …') ------------------------
    "the end of the file": "文件末尾",
    "text in quotes": "带引号的文字",
    "a name": "名字",
    "a number": "数字",
    "a duration like 30m, 2h or 7d": "时长（如 30m、2h 或 7d）",
    "a time like 10:00": "时间（如 10:00）",
    "a date like 2026-12-10": "日期（如 2026-12-10）",
    "a percentage like 50%": "百分比（如 50%）",
    "a weekday (mon … sun)": "星期几（mon … sun）",
    "a comparison (==, !=, <, <=, >, >=)": "比较符（==、!=、<、<=、>、>=）",
    "'asc' or 'desc'": "'asc' 或 'desc'",
    "a declaration (segment, content, journey, group, moments, rotate, sla) or a setting": (
        "声明（segment、content、journey、group、moments、rotate、sla）或设置"
    ),
    "a step (dm, task, tag, invite, exit, if, split, wait)": "步骤（dm、task、tag、invite、exit、if、split、wait）",
    "{items}, {item}": "{items}、{item}",
    "{items} or {last}": "{items} 或 {last}",
    # ---- playbook.syntax.source -----------------------------------------------------------------
    "no ';' is needed — start a new line instead": "不需要写 ';'，直接换行就行",
    "no '。' is needed outside quotes": "引号外面不需要写 '。'",
    'use "…" or “…” for text': '文字请用 "…" 或 “…” 括起来',
    "this closing quote has no opening “": "这个右引号 ” 前面没有对应的左引号 “",
    "'～' is only allowed inside quotes": "'～' 只能写在引号里",
    "save it as UTF-8 (most editors: File → Save with Encoding → UTF-8)": (
        "请把它另存为 UTF-8 编码（多数编辑器：文件 → 通过编码保存 → UTF-8）"
    ),
    # ---- playbook.cli.event (and its line in playbook.cli.main) ----------------------------------
    "Append one event (TYPE --contact ID key=value…) to the store.": "向存储追加一条事件（TYPE --contact ID key=value…）。",
    "Append one event to the store; the daemon processes it.": "向存储追加一条事件，由守护进程处理。",
    "The contact the event is about.": "事件所属的联系人。",
    "When it happened, like 2026-12-01T09:00:00+08:00 (default: now).": "发生时间，如 2026-12-01T09:00:00+08:00（默认：现在）。",
    "text for people, json for scripts.": "text 给人看，json 给脚本用。",
    "'{pair}' is not KEY=VALUE": "'{pair}' 不是 KEY=VALUE 的形式",
    "'{key}' is set by its own option, not as KEY=VALUE": "'{key}' 要用它自己的选项来设置，不能写成 KEY=VALUE",
    "bad event: {reason}": "事件有误：{reason}",
    "event {seq} stored: {type} for contact {contact}": "已存入事件 {seq}：联系人 {contact} 的 {type}",
    # ---- playbook.data.files, playbook.data.values: rows that are left out ----------------------
    "the row has no id": "这一行没有 id",
    "id '{id}' is already used on row {row}": "id '{id}' 已经在第 {row} 行用过了",
    "not valid JSON: {detail}": "不是合法的 JSON：{detail}",
    "each line must be a JSON object": "每一行都必须是一个 JSON 对象",
    "{cells} cells but the header has {columns} columns": "这一行有 {cells} 格，但表头只有 {columns} 列",
    "'{text}' is not a date or time like {example}": "'{text}' 不是日期或时间，应写成 {example} 这样",
    "'{text}' is not a date on the calendar": "日历上没有 '{text}' 这个日期",
    "field '{key}' has a value of an unsupported kind ({kind})": "字段 '{key}' 的值类型不受支持（{kind}）",
    "the event has no '{key}'": "这条事件缺少 '{key}'",
    "'{key}' must be a time like {example}": "'{key}' 必须是时间，例如 {example}",
    "a purchase's amount must be a number, not '{amount}'": "purchase 事件的 amount 必须是数字，不能是 '{amount}'",
    "a {kind} event needs a 'tag'": "{kind} 事件必须带上 'tag'",
    # ---- playbook.plan: options -----------------------------------------------------------------
    "--start: {problem}": "--start：{problem}",
    "--simulate: '{part}' — use KEY=PROBABILITY with KEY one of {keys}": (
        "--simulate：'{part}' 写法不对，应写成 KEY=概率，KEY 取 {keys} 之一"
    ),
    "--simulate: the probability for {key} must be a number from 0 to 1": "--simulate：{key} 的概率必须是 0 到 1 之间的数",
    "unknown adapter '{name}'": "未知的适配器 '{name}'",
    "known adapters: {names}": "可用的适配器：{names}",
    # ---- playbook.plan.output: the summary line and the tables ----------------------------------
    "Plan {version}  {span}": "演练计划 {version}  {span}",
    "{count} dm": "{count} 条私聊",
    "{count} group post": "{count} 条群消息",
    "{count} group posts": "{count} 条群消息",
    "{count} moment": "{count} 条朋友圈",
    "{count} moments": "{count} 条朋友圈",
    "{count} task": "{count} 个任务",
    "{count} tasks": "{count} 个任务",
    "{counts}; {causes}": "{counts}；{causes}",
    "; ": "；",
    "{count} deferred by {cause}": "{count} 条延后（{cause}）",
    "{count} skipped by {cause}": "{count} 条跳过（{cause}）",
    "quiet hours": "免打扰时段",
    "limits": "频次限制",
    "missing fields": "缺少字段",
    "exits": "退出旅程",
    "per day": "按天统计",
    "per account": "按账号统计",
    "day": "日期",
    "account": "账号",
    "dm": "私聊",
    "group posts": "群消息",
    "moments": "朋友圈",
    "tasks": "任务",
    "ok": "按时",
    "deferred": "延后",
    "skipped": "跳过",
    "journeys": "旅程效果",
    "entered": "进入",
    "goal": "达成目标",
    "conversion": "转化率",
    "by arm": "各组（达成/进入）",
    "{file}:{row}: skipped row: {reason}": "{file}:{row}: 已跳过这一行：{reason}",
    "event {type} for unknown contact '{contact}' ignored": "事件 {type} 的联系人 '{contact}' 不存在，已忽略",
    # ---- playbook.plan.output: a contact's timeline ---------------------------------------------
    "{name} ({id}) · account {account}": "{name}（{id}）· 账号 {account}",
    "{outcome} ({reason})": "{outcome}（{reason}）",
    "due {when}": "原定 {when}",
    # ---- playbook.plan.output: why a touch was deferred or skipped (the JSON keeps English) -----
    "quiet hours {start}-{end}": "免打扰时段 {start}-{end}",
    "limit dm {count} {per}": "频次限制：{per}最多 {count} 条私聊",
    "limit group {count} {per}": "频次限制：{per}最多 {count} 条群消息",
    "limit moment {count} {per}": "频次限制：{per}最多 {count} 条朋友圈",
    "limit task {count} {per}": "频次限制：{per}最多 {count} 个任务",
    "limit any {count} {per}": "频次限制：{per}最多触达 {count} 次",
    "per contact per day": "每个联系人每天",
    "per contact per week": "每个联系人每周",
    "per contact per month": "每个联系人每月",
    "per account per day": "每个账号每天",
    "per account per week": "每个账号每周",
    "per account per month": "每个账号每月",
    "wecom: 1 dm per customer per day": "企业微信限制：每位客户每天最多 1 条私聊",
    "wecom: 7 dm per customer per week": "企业微信限制：每位客户每周最多 7 条私聊",
    "wecom: days-in-month dm per customer": "企业微信限制：每位客户每月的私聊不超过当月天数",
    "missing {field}": "缺少字段 {field}",
    "contact deleted": "联系人已删除",
    "the contact has no account": "联系人没有所属账号",
    "the group has closed": "群已关闭",
    "no contact can see it": "没有联系人能看到",
    "exited the journey ({reason})": "已退出旅程（{reason}）",
    "exit when": "满足 exit when 条件",
    "exit step": "执行到 exit 步骤",
    "exit on {event}": "发生了 {event} 事件",
    "deleted": "联系人已删除",
    "this file is neither UTF-8 nor GB18030 text": "这个文件既不是 UTF-8 也不是 GB18030 编码的文本",
    "adapter '{adapter}' cannot carry {parts} in {channel} touches (content '{name}')": "适配器 '{adapter}' 无法在 {channel} 触达中发送 {parts}（内容 '{name}'）",
    "these parts will not be sent; use another content for this channel": "这些部分不会发出；请为这个渠道换一个内容",
    "adapter '{adapter}' cannot dissolve group '{name}': a staff task will ask for it": "适配器 '{adapter}' 无法解散群 '{name}'：会生成一个员工任务提醒解散",
    "Report what this adapter cannot carry (e.g. wecom).": "报告这个适配器无法承载的内容（例如 wecom）。",
ENTRIES = {
    # ---- playbook status / report / explain (playbook.cli.status, report, explain; playbook.runtime.explain) ----
    "What the store holds: pending timers, the ledger by state, dead letters.": "存储里现在有什么：待触发的定时器、按状态统计的发送台账、死信。",
    "The seed metrics from the store: service levels, conversion, execution.": "从存储计算核心指标：服务标准、转化、执行情况。",
    "Why a contact got (or did not get) each journey and touch.": "解释一个联系人为什么进入（或没进入）每个旅程、收到（或没收到）每次触达。",
    "From this time on (local time of the playbook unless it has an offset).": "从这个时间开始（不带时区偏移时按剧本时区）。",
    "Up to, not including, this time.": "到这个时间为止（不含）。",
    "The contact to explain.": "要解释的联系人。",
    "Only this journey (or other flow).": "只看这个旅程（或其他流程）。",
    "{path} does not exist (run `playbook import` or start the daemon first)": "{path} 不存在（请先运行 `playbook import` 或启动一次守护进程）",
    "{option}: {problem}": "{option}：{problem}",
    "held": "暂缓中",
    "pending": "待发送",
    "sending": "发送中",
    "sent": "已发送",
    "failed": "失败",
    "unknown": "结果未知",
    "dead": "死信",
    "new": "未处理",
    "processed": "已处理",
    "rejected": "已拒绝",
    "active": "进行中",
    "done": "已完成",
    "exited": "已退出",
    "none": "无",
    "active playbooks: {versions}": "生效的剧本：{versions}",
    "timers pending: {count} (next due {when})": "待触发的定时器：{count} 个（最近一个在 {when}）",
    "contacts: {total} ({deleted} deleted) · accounts: {accounts}": "联系人：{total}（{deleted} 个已删除）· 账号：{accounts}",
    "ledger": "发送台账",
    "events": "事件",
    "enrolments": "旅程参与",
    "dead letters (latest)": "死信（最近）",
    "last errors": "最近的错误",
    "when": "时间",
    "state": "状态",
    "flow · step": "流程 · 步骤",
    "to": "对象",
    "attempts": "尝试次数",
    "retry at": "重试时间",
    "report {since} → {until}": "报表 {since} → {until}",
    "the beginning": "最早",
    "now": "现在",
    "service levels": "服务标准",
    "measures": "指标",
    "pass rate": "通过率",
    "reply rate": "回复率",
    "started": "开始",
    "met": "按时",
    "missed": "超时",
    "late": "超时后回应",
    "open": "进行中",
    "in time": "按时率",
    "moments: {posts} posts sent, seen by {reached} contacts; {interacted} interacted — interaction rate {rate}": "朋友圈：发出 {posts} 条，{reached} 位联系人可见；{interacted} 位互动 —— 互动率 {rate}",
    "median hours to goal": "达成目标用时中位数（小时）",
    "by segment": "各客群（达成/进入）",
    "purchases: {count} by {buyers} contacts, revenue {revenue}, average order value {aov}": "购买：{buyers} 位联系人共 {count} 笔，金额 {revenue}，客单价 {aov}",
    "execution by account": "按账号的执行情况",
    "due": "应发",
    "on time": "按时",
    "waiting": "等待中",
    "execution rate": "执行率",
    "no contact '{id}' in the store": "存储里没有联系人 '{id}'",
    "no flow '{name}' in the active playbooks": "生效的剧本里没有流程 '{name}'",
    "journeys of the playbooks": "剧本里的旅程",
    "#{n} entered {at}": "第 {n} 次进入 {at}",
    "still inside": "仍在旅程中",
    "completed {at}": "已走完 {at}",
    "completed": "已走完",
    "arm {arms}": "分组 {arms}",
    "goal {at} ({hours} h after entry)": "达成目标 {at}（进入后 {hours} 小时）",
    "never entered": "从未进入",
    "touches": "触达",
    "no touches": "没有触达",
    "channel": "渠道",
    "what happened": "结果",
    "the contact is deleted: no journey takes it any more": "联系人已删除：不会再进入任何旅程",
    "the contact has no account: nothing can be sent to it": "联系人没有所属账号：什么都发不出去",
    "no {event} event was ever received for this contact": "从没收到过这个联系人的 {event} 事件",
    "its {event} event at {at} was rejected: {reason}": "它在 {at} 的 {event} 事件被拒绝了：{reason}",
    "its {event} event at {at} has not been processed yet": "它在 {at} 的 {event} 事件还没处理",
    "{event} at {at} was received, but its `where` is false: {terms}": "收到了 {at} 的 {event}，但 `where` 条件不成立：{terms}",
    "{event} at {at} came before this playbook version was activated ({activated})": "{at} 的 {event} 早于这个剧本版本生效的时间（{activated}）",
    "{event} at {at} matched, but no enrolment is recorded (re-entry rules, or not processed yet)": "{at} 的 {event} 符合条件，但没有进入记录（重新进入的规则限制，或还没处理）",
    "does not match segment {segment} now: {terms}": "现在不属于客群 {segment}：{terms}",
    "matches segment {segment} now; enters when membership is next evaluated": "现在属于客群 {segment}；下次计算客群时进入",
    "matches segment {segment}; enters at the next firing ({schedule})": "属于客群 {segment}；下次触发时进入（{schedule}）",
    "the one-time entry at {at} has passed": "{at} 的一次性进入已经过去了",
    "enters at {at} if it still matches segment {segment} then": "如果到时仍属于客群 {segment}，将在 {at} 进入",
    "held since {due}: {reason}": "从 {due} 起暂缓：{reason}",
    "held since {due}": "从 {due} 起暂缓",
    "skipped: {reason}": "已跳过：{reason}",
    "deferred from {due} to {at} by {reason}": "因{reason}从 {due} 延后到 {at}",
    "went out at {at} (on time)": "{at} 已发出（按时）",
    "went out at {at} (late)": "{at} 已发出（晚了）",
    "waiting to go out at {at}": "等待在 {at} 发出",
    "being sent (attempt {n})": "发送中（第 {n} 次）",
    "failed: {error} (attempt {n}, retrying at {at})": "失败：{error}（第 {n} 次，将在 {at} 重试）",
    "dead letter: {error}": "死信：{error}",
    "unknown whether it went out: {error}": "不确定是否已发出：{error}",
}
}
