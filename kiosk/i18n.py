"""Every string the kiosk screens show, in 中文 and English.

Form text (labels, hints, the form's own messages) comes from the XLSForm; this table holds
only what the kiosk itself says. Chinese uses full-width punctuation (，。？！).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from surveys.form import language_code

LANGUAGES = ("zh", "en")
HUNDREDTH = Decimal("0.01")

STRINGS: dict[str, tuple[str, str]] = {
    # ---- home ----
    "home.hint": ("请点一下您要填写的问卷", "Tap the questionnaire you want to fill in"),
    "home.questions": ("（共 {count} 题）", "({count} questions)"),
    "home.no_forms": ("现在没有可以填写的问卷，请找工作人员。",
                      "No questionnaire is available now; please ask the staff."),
    "home.footer": ("填写时可以随时点“上一题”修改。需要帮助请找工作人员。",
                    "You can always tap “Back” to change an answer. Ask the staff for help."),
    "home.large_on": ("大字：开", "Large text: on"),
    "home.large_off": ("大字：关", "Large text: off"),
    "home.staff": ("工作人员", "Staff"),
    "home.volunteer": ("志愿者签到", "Volunteer check-in"),
    "home.volunteer_sign_in": ("志愿者登录", "Volunteer sign-in"),
    "home.volunteer_signed_in": ("志愿者：{name}（编号 {number}）",
                                 "Volunteer: {name} (No. {number})"),
    "home.volunteer_sign_out": ("退出登录", "Sign out"),
    "home.drafts": ("您有 {count} 份未完成的走访，点一下接着填：",
                    "You have {count} unfinished visit(s); tap one to go on:"),
    "home.draft_title": ("继续填写：{title}（已答 {answered} 题）",
                         "Continue: {title} ({answered} answered)"),
    "home.draft_saved": ("上次保存 {when}", "last saved {when}"),
    "home.draft_gone": ("这份走访已经填完或作废了。",
                        "That visit was already finished or discarded."),
    "home.recovered": ("刚才出了点问题，已经填的答案保存好了。可以重新开始，或者找工作人员。",
                       "Something went wrong. Your answers so far were saved; you can start "
                       "again or ask the staff."),
    "weekday": ("星期一 星期二 星期三 星期四 星期五 星期六 星期日",
                "Monday Tuesday Wednesday Thursday Friday Saturday Sunday"),
    "month": ("", "January February March April May June July August September October "
                  "November December"),
    "month.short": ("", "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"),
    # ---- questions ----
    "nav.back": ("上一题", "Back"),
    "nav.next": ("下一题", "Next"),
    "nav.finish": ("完成", "Finish"),
    "nav.home": ("返回首页", "Home"),
    "nav.to_review": ("回到核对", "Back to review"),
    "progress": ("已答 {answered} 题，共 {total} 题", "Answered {answered} of {total}"),
    "more_below": ("▼ 下面还有 {count} 项，请向下滑动 ▼", "▼ {count} more below: scroll down ▼"),
    "required": ("*必答", "*required"),
    "leave_warning": ("再点一次“返回首页”，已经填的答案就不要了。想继续填写，请点“下一题”。",
                      "Tap “Home” again to throw away your answers. To go on, tap “Next”."),
    "placeholder.integer": ("请输入数字", "Enter a number"),
    "placeholder.decimal": ("请输入数字，例如 2.5", "Enter a number, such as 2.5"),
    "placeholder.text": ("请在这里输入", "Type here"),
    "text.length": ("最多 {limit} 个字，已写 {count} 个字",
                    "At most {limit} characters; {count} written"),
    "placeholder.date": ("例如 2026-11-23", "e.g. 2026-11-23"),
    "today": ("今天", "Today"),
    "date.year": ("{value}年", "{value}"),
    "date.month": ("{value}月", "{value}"),
    "date.day": ("{value}日", "{value}"),
    "date.pick": ("也可以点 － ＋ 选日期：", "Or pick the date with − and +:"),
    "acknowledge": ("确认", "OK"),
    "acknowledged": ("✓ 已确认", "✓ Confirmed"),
    "unanswered": ("（未填写）", "(no answer)"),
    "refused.control": ("输入里有不能用的控制字符（如换行、制表符），没有收下，请重新输入。",
                        "The input held control characters (such as line breaks or tabs) and "
                        "was not taken; please type it again."),
    "refused.too_long": ("太长了：这里最多可以填 {limit} 个字。",
                         "Too long: at most {limit} characters here."),
    "read_aloud": ("朗读", "Read aloud"),
    # ---- review and finish ----
    "review.done": ("问卷已经答完了。", "You have answered all the questions."),
    "review.explain": ("请核对下面的回答。要改哪一题，点它旁边的“修改”；没问题就点“提交”，"
                       "提交后会给您一个回执号。",
                       "Please check your answers. To change one, tap “Change” next to it; "
                       "if all is right, tap “Submit” to get a receipt code."),
    "review.change": ("修改", "Change"),
    "review.submit": ("提交", "Submit"),
    "review.missing": ("这一题还需要回答", "This question still needs an answer"),
    # ---- repeat groups (a household's members, one instance at a time) ----
    "repeat.instance": ("第 {number} 位{label}", "{label} {number}"),
    "repeat.count": ("已经填了 {count} 位{label}。", "{label}: {count} filled in so far."),
    "repeat.none": ("还没有填{label}。", "{label}: none filled in yet."),
    "repeat.add_question": ("再添加一位？", "Add another?"),
    "repeat.add": ("再添加一位", "Add another"),
    "repeat.no_more": ("不用了，继续", "No, continue"),
    "repeat.remove": ("删除这一位", "Delete this one"),
    "repeat.remove_title": ("删除{instance}？", "Delete {instance}?"),
    "repeat.remove_warning": ("删除后这一位的回答都会清除，确定吗？",
                              "Deleting clears all of this one's answers. Are you sure?"),
    "repeat.remove_yes": ("确定删除", "Yes, delete"),
    "repeat.remove_no": ("不删除", "No, keep it"),
    "review.no_instances": ("（没有填{label}）", "(no {label})"),
    # ---- a household picked from the register (select_one_from_file) ----
    "register.placeholder": ("输入户主姓名、地址或电话后四位",
                             "Name, address or last 4 digits of the phone"),
    "register.recent": ("最近登记或走访的家庭（也可以输入几个字查找）：",
                        "Households seen most recently (or type to search):"),
    "register.found": ("找到 {count} 户：", "{count} found:"),
    "register.more": ("还有更多，请多输入几个字", "There are more: please type a few more letters"),
    "register.none_found": ("没有找到，请换几个字再试（姓名、地址或电话后四位）。",
                            "Nothing found; try other words (name, address or last 4 "
                            "phone digits)."),
    "register.empty": ("名单里还没有登记的家庭，请先填写登记问卷",
                       "No household is in the register yet; please fill in the "
                       "registration questionnaire first"),
    "register.chosen": ("已选择：{label}", "Chosen: {label}"),
    "register.phone": ("电话 {digits}", "phone {digits}"),
    "register.updated": ("上次走访 {date}", "last visit {date}"),
    # ---- thanks ----
    "thanks.title": ("提交成功，谢谢您！", "Submitted. Thank you!"),
    "thanks.code": ("您的回执号：", "Your receipt code:"),
    "thanks.keep": ("请记下回执号，到服务台可以凭它查询。",
                    "Please note the code; the service desk can look up your answers with it."),
    "thanks.countdown": ("{seconds} 秒后自动回到首页，点屏幕任意处可以马上回去。",
                         "Back to the home screen in {seconds} s; tap anywhere to go now."),
    "thanks.home": ("回到首页", "Home"),
    "thanks.printing.receipt": ("回执正在打印，请取走。",
                                "Your receipt is printing: please take it."),
    "thanks.printing.ticket": ("登记单正在打印，请取走收好。",
                               "Your request ticket is printing: please take it and keep it."),
    "thanks.printing.plan": ("改造建议方案正在打印，请交给老人或家属。",
                             "The adaptation plan is printing: please give it to the resident "
                             "or family."),
    "thanks.print_later": ("打印机暂时不能用：回执稍后打印，也可以凭回执号到服务台补打。",
                           "The printer is not available right now: your receipt will print "
                           "later, or the service desk can reprint it with the code."),
    # ---- printed slips (kiosk/printing/receipts.py) ----
    "receipt.heading": ("问卷回执", "Questionnaire receipt"),
    "receipt.form": ("问卷", "Form"),
    "receipt.time": ("时间", "Time"),
    "receipt.code": ("回执号", "Receipt code"),
    "receipt.thanks": ("谢谢您的参与！", "Thank you for taking part!"),
    "receipt.keep": ("请保留本回执，凭回执号可以到服务台查询。",
                     "Keep this receipt: the service desk can look up your answers with the "
                     "code."),
    "ticket.heading": ("服务需求登记单", "Service request ticket"),
    "ticket.number": ("票号", "Ticket number"),
    "ticket.category": ("类别", "Category"),
    "ticket.urgency": ("紧急程度", "Urgency"),
    "ticket.next": ("接下来：", "What happens next:"),
    # {by} is a date with its weekday, 11月26日（星期四）: one promise, said the same on the
    # thank-you screen and the slip (kiosk.printing.receipts.follow_up_promise).
    "ticket.phone": ("社工会在{days}个工作日内，即{by}前，给您打电话。",
                     "A social worker will phone you within {days} working days, by {by}."),
    "ticket.visit": ("社工会在{days}个工作日内，即{by}前，联系您约定上门时间。",
                     "A social worker will contact you within {days} working days, by {by}, "
                     "to arrange the home visit."),
    "ticket.office": ("社工会在{days}个工作日内，即{by}前，准备好；请在{when}带上本单到站点面谈。",
                      "A social worker will be ready within {days} working days, by {by}; "
                      "please come to the station ({when}) with this ticket."),
    "ticket.none": ("已登记，社工会在{days}个工作日内，即{by}前，跟进处理，不再回访。",
                    "Registered: a social worker will act on it within {days} working days, "
                    "by {by}; no follow-up call."),
    "ticket.general": ("社工会在{days}个工作日内，即{by}前，跟进处理。",
                       "A social worker will follow up within {days} working days, by {by}."),
    "ticket.any_time": ("工作时间", "office hours"),
    "ticket.urgent": ("如果有危险或急病，请马上拨打110或120。",
                      "If anyone is in danger or seriously ill, call 110 or 120 now."),
    "ticket.keep": ("请保留本单，凭票号可以到服务台查询进度。",
                    "Keep this ticket: the service desk can tell you how it stands."),
    "plan.heading": ("适老化改造建议方案", "Home adaptation plan"),
    "plan.visit_date": ("走访日期", "Visit date"),
    "plan.filled_by": ("填写人", "Filled in by"),
    "plan.by_volunteer": ("志愿者 {name}（编号 {number}）", "volunteer {name} (No. {number})"),
    "plan.by_number": ("志愿者（编号 {number}）", "volunteer No. {number}"),
    "plan.by_hall": ("大厅自助填写", "self-service at the hall"),
    "plan.items": ("建议改造项目（括号里是原因）：", "Recommended (and why):"),
    "plan.room": ("{room}：", "{room}:"),
    "plan.none": ("暂不需要改造。", "No adaptation needed for now."),
    "plan.agreement": ("老人和家属意见", "Resident and family"),
    "plan.next": ("社工站会与您联系，安排改造的时间。请保留本单。",
                  "The station will contact you to arrange the work. Please keep this sheet."),
    "slip.heading": ("志愿服务签退单", "Volunteer check-out slip"),
    "slip.name": ("姓名", "Name"),
    "slip.team": ("服务队", "Team"),
    "slip.in": ("签到", "Check-in"),
    "slip.out": ("签退", "Check-out"),
    "slip.hours": ("本次服务", "This service"),
    "slip.month": ("本月累计", "This month"),
    "slip.hours_value": ("{hours} 小时", "{hours} h"),
    "slip.thanks": ("感谢您的志愿服务！", "Thank you for volunteering!"),
    # ---- volunteers: scans, check-in and check-out, field-mode sign-in ----
    "volunteer.scan_here": ("请在扫码器上扫志愿者证", "Scan your volunteer card on the scanner"),
    "volunteer.scan_explain": ("来服务时扫一次签到，服务结束再扫一次签退，签退单会打印出来。"
                               "在哪个页面扫都可以。",
                               "Scan once when you arrive to check in, and again when you "
                               "leave to check out; a slip with your hours is printed. Any "
                               "screen will do."),
    "volunteer.camera": ("也可以把志愿者证的二维码对准摄像头。",
                         "Or hold the card's QR code up to the camera."),
    "volunteer.back": ("返回", "Back"),
    "volunteer.checked_in": ("签到成功", "Checked in"),
    "volunteer.checked_out": ("签退成功", "Checked out"),
    "volunteer.repeat": ("已经扫过了", "Already scanned"),
    "volunteer.identified": ("志愿者已登录", "Volunteer signed in"),
    "volunteer.refused": ("这张志愿者证不能用", "This volunteer card cannot be used"),
    "volunteer.failed": ("暂时不能识别志愿者证", "Volunteer cards cannot be read right now"),
    "volunteer.failed_explain": ("请找工作人员登记。", "Please ask the staff to record it."),
    "volunteer.signed_in": ("之后填写的问卷都会记上您的志愿者编号 {number}。"
                            "走访结束请在首页点“退出登录”。",
                            "Questionnaires filled in from now on carry your volunteer "
                            "number {number}. Tap “Sign out” on the home screen when the "
                            "visit is over."),
    "volunteer.slip": ("签退单正在打印，请取走。", "Your check-out slip is printing."),
    "volunteer.slip_later": ("打印机暂时不能用：签退单稍后打印，也可以到服务台补打。",
                             "The printer is not available right now: your slip will print "
                             "later, or the service desk can reprint it."),
    "volunteer.tap": ("点屏幕回到原来的页面", "Tap to go back"),
    "volunteer.ok": ("好的", "OK"),
    "signin.title": ("志愿者登录", "Volunteer sign-in"),
    "signin.explain": ("入户走访前请登录：在扫码器上扫志愿者证；没有扫码器时，输入志愿者证的编码，"
                       "再点“登录”。",
                       "Sign in before a household visit: scan your volunteer card; without "
                       "a scanner, type the card's code and tap “Sign in”."),
    "signin.placeholder": ("志愿者证编码，例如 V1.JG0042.1.……", "Card code, e.g. V1.JG0042.1.…"),
    "signin.ok": ("登录", "Sign in"),
    # ---- a volunteer card scanned (kiosk/volunteers/desk.py) ----
    "scan.checked_in": ("{name}，您好！签到成功，签到时间 {time}。",
                   "Hello, {name}! You are checked in at {time}."),
    "scan.last_not_checked_out": ("上次服务没有签退，已请工作人员核实时长。",
                             "Last time you did not check out; the staff will check those "
                             "hours."),
    # One phrase a line: wrapped as one sentence, the screen broke 本月累计 0.03 / 小时.
    "scan.checked_out": ("{name}，签退成功！\n签退时间 {time}\n本次服务 {hours} 小时\n"
                         "本月累计 {month} 小时\n感谢您的付出！",
                         "Thank you, {name}! Checked out at {time}.\nThis time: {hours} h\n"
                         "This month: {month} h"),
    "scan.short_session": ("本次服务时间较短，已提醒工作人员核实。",
                      "This was a short session; the staff will check it."),
    "scan.repeat_in": ("{name}，刚刚已经扫过了，您已在 {time} 签到，不用再扫。",
                  "{name}, you just scanned: you checked in at {time}. No need to scan again."),
    "scan.repeat_out": ("{name}，刚刚已经扫过了，您已在 {time} 签退，不用再扫。",
                   "{name}, you just scanned: you checked out at {time}. No need to scan "
                   "again."),
    "scan.identified": ("{name}，您好！身份已确认。", "Hello, {name}! You are signed in."),
    "scan.not_a_card": ("这不是志愿者卡的二维码，请扫描志愿者卡。",
                   "This is not a volunteer card. Please scan your volunteer card."),
    "scan.tampered": ("这张卡无法识别，可能不是本站的卡，请找工作人员。",
                 "This card cannot be accepted (it may be from another station). Please ask "
                 "the staff."),
    "scan.old_card": ("这张卡已经作废（已补办新卡），请用新卡，或找工作人员。",
                 "This card has been replaced by a new one. Please use the new card or ask "
                 "the staff."),
    "scan.suspended": ("{name}，您的志愿者服务已暂停，请找工作人员。",
                  "{name}, your volunteer service is on hold. Please ask the staff."),
    "scan.unknown_volunteer": ("没有找到这张卡的志愿者，请找工作人员登记。",
                          "This card's volunteer is not registered here. Please ask the "
                          "staff."),
    # ---- states, one word each wherever they show (screens, dashboard, slips, reports) ----
    "session_state.open": ("在岗", "on duty"),
    "session_state.credited": ("已计入", "credited"),
    "session_state.review": ("待核实", "to review"),
    "session_state.void": ("已作废", "void"),
    "session_flag.short_session": ("时长过短", "short session"),
    "session_flag.closed_at_day_end": ("日终自动签退", "closed at day end"),
    "correction.times": ("更正", "corrected"),
    "correction.confirm": ("核实无误", "confirmed"),
    "correction.void": ("作废", "voided"),
    "print_state.queued": ("排队中", "queued"),
    "print_state.sending": ("正在打印", "printing"),
    "print_state.waiting": ("等打印机", "waiting for the printer"),
    "print_state.done": ("已打印", "printed"),
    "print_state.cancelled": ("已取消", "cancelled"),
    "print.reprint_mark": ("补打", "reprint"),
    "print_kind.receipt": ("问卷回执", "receipt"),
    "print_kind.ticket": ("需求登记单", "request ticket"),
    "print_kind.plan": ("改造方案", "adaptation plan"),
    "print_kind.slip": ("签退单", "check-out slip"),
    "print_kind.test": ("测试页", "test page"),
    "request_state.new": ("新登记", "new"),
    "request_state.in_progress": ("处理中", "in progress"),
    "request_state.closed": ("已办结", "closed"),
    # ---- idle ----
    "idle.title": ("还在吗？请点屏幕继续", "Still there? Tap to continue"),
    "idle.countdown": ("{seconds} 秒后回到首页，已经填的内容不会再显示。",
                       "Back to the home screen in {seconds} s; your answers will not be shown "
                       "again."),
    "idle.continue": ("继续", "Continue"),
    # ---- staff ----
    "pin.title": ("工作人员登录", "Staff sign-in"),
    "pin.prompt": ("请输入工作人员密码", "Enter the staff PIN"),
    "pin.delete": ("删除", "Delete"),
    "pin.ok": ("确定", "OK"),
    "pin.back": ("返回", "Back"),
    "pin.wrong": ("密码不对，还可以再试 {left} 次。", "Wrong PIN; {left} tries left."),
    "pin.locked": ("输错次数太多，已锁定。请在 {until} 以后再试（约 {minutes} 分钟）。",
                   "Too many wrong PINs: locked. Try again after {until} (about {minutes} "
                   "min)."),
    "pin.unset": ("还没有设置工作人员密码，不能进入。\n"
                  "请工作人员在电脑上运行：kiosk config set-pin",
                  "No staff PIN is set, so staff functions are closed.\n"
                  "Staff: run `kiosk config set-pin` on the kiosk computer."),
    "staff.title": ("工作人员菜单", "Staff menu"),
    "staff.drafts": ("未完成的问卷：放弃 {abandoned} 份，保留待续 {open} 份。",
                     "Unfinished questionnaires: {abandoned} abandoned, {open} kept open."),
    "staff.kept_drafts": ("保留待续的问卷（{count} 份）", "Questionnaires kept open ({count})"),
    "staff.exit": ("退出程序", "Exit the kiosk"),
    "staff.home": ("返回首页", "Back to home"),
    "staff.field_on": ("入户走访模式：开（点一下关闭）", "Field mode: on (tap to turn off)"),
    "staff.field_off": ("入户走访模式：关（点一下打开）", "Field mode: off (tap to turn on)"),
    "staff.field_explain": ("入户走访模式下，志愿者扫证登录，填写的问卷记上志愿者编号；"
                            "不签到签退。",
                            "In field mode volunteers sign in with their card and questionnaires "
                            "carry their number; there is no check-in or check-out."),
    "staff.dashboard": ("统计与管理", "Statistics and desk work"),
    # ---- nightly backups (staff menu, kiosk backup --nightly) ----
    "backup.last": ("夜间备份：上次 {when}，存在 {folder}。",
                    "Nightly backup: last made {when}, in {folder}."),
    "backup.none": ("夜间备份：还没有做过（每晚 {hour} 点，存到 {folder}）。",
                    "Nightly backup: none made yet (every night at {hour}:00, into {folder})."),
    "backup.off": ("夜间备份：已关闭（配置文件 [backup] nightly）。",
                   "Nightly backup: off ([backup] nightly in the configuration)."),
    "backup.failed_at": ("夜间备份没做成（{when}）：", "The nightly backup failed ({when}): "),
    "backup.problem.missing_folder": (
        "找不到备份文件夹 {folder}。U盘或第二块硬盘没有插好？插好后终端会自己再做。",
        "the backup folder {folder} is not there. Is the USB stick or second disk plugged in? "
        "The kiosk tries again by itself."),
    "backup.problem.unwritable": (
        "备份文件夹 {folder} 写不进去（{detail}）。请检查U盘是否写保护、文件夹权限。",
        "cannot write into the backup folder {folder} ({detail}). Check the stick's write "
        "protection and the folder's permissions."),
    "backup.problem.failed": ("{detail}。终端会自己再试；一直不成请找技术人员。",
                              "{detail}. The kiosk tries again by itself; if it keeps failing, "
                              "ask for technical help."),
    "backup.not_a_folder": ("这是一个文件，不是文件夹", "it is a file, not a folder"),
    "backup.made": ("夜间备份已做好：{path}（按保留规则删掉了 {deleted} 份旧的）。",
                    "Nightly backup made: {path} (the rotation deleted {deleted} older)."),
    "backup.not_due": ("最近一次夜间备份已经做过了（{when}）：{path}。下一次在 {next}。",
                       "The latest nightly backup is made ({when}): {path}. The next one is "
                       "due {next}."),
    "backup.busy": ("另一个终端进程正在做夜间备份。",
                    "Another kiosk process is making the nightly backup."),
    # ---- kept drafts (staff) ----
    "drafts.title": ("保留待续的问卷", "Questionnaires kept open"),
    "drafts.explain": ("走访被打断（或终端出错）时保留下来的问卷：可以接着填完，"
                       "也可以写明原因作废（记入操作记录）。",
                       "Questionnaires kept when a visit was interrupted (or the kiosk failed): "
                       "finish one, or discard it with a reason (recorded in the audit log)."),
    "drafts.row": ("{title}　{who}", "{title} · {who}"),
    "drafts.row_detail": ("已答 {answered} 题　上次保存 {when}",
                          "{answered} answered · last saved {when}"),
    "drafts.sep": ("　", " · "),  # between the parts of a draft's line
    "drafts.when": ("{month}月{day}日 {time}", "{day} {short} {time}"),
    "drafts.volunteer": ("志愿者 {number}", "volunteer {number}"),
    "drafts.hall": ("大厅", "hall"),
    "drafts.resume": ("继续填写", "Continue"),
    "drafts.discard": ("作废", "Discard"),
    "drafts.none": ("没有保留待续的问卷。", "No questionnaire is kept open."),
    "drafts.discard_what": ("作废这份问卷：{row}", "Discard this questionnaire: {row}"),
    "drafts.reason": ("作废原因（必填）", "Reason (required)"),
    "drafts.confirm": ("确认作废", "Discard it"),
    "drafts.cancel": ("取消", "Cancel"),
    "drafts.need_name": ("请先在右上角填写经办人姓名（记入操作记录）。",
                         "Please type your name at the top right first (for the audit log)."),
    "drafts.need_reason": ("请写明作废原因。", "Please give the reason for discarding it."),
    "drafts.discarded": ("已作废，并记入操作记录：{row}",
                         "Discarded and recorded in the audit log: {row}"),
    "drafts.gone": ("这份问卷已经不在了（可能刚在别的终端上填完或作废）。",
                    "This questionnaire is gone (finished or discarded on another screen)."),
    # ---- staff dashboard ----
    "dash.title": ("工作人员面板", "Staff dashboard"),
    "dash.staff_name": ("经办人姓名", "Your name"),
    "dash.back": ("返回菜单", "Back to menu"),
    "dash.tab_stats": ("统计", "Statistics"),
    "dash.tab_requests": ("需求登记", "Requests"),
    "dash.tab_printing": ("打印队列", "Print queue"),
    "dash.tab_volunteers": ("今日志愿者", "Volunteers today"),
    "dash.tab_export": ("导出", "Export"),
    "dash.tab_doctor": ("系统检查", "System check"),
    "dash.doctor_run": ("重新检查", "Check again"),
    "dash.doctor_speak": ("试听音箱", "Test the speaker"),
    "dash.doctor_scan": ("扫码测试：点这里，再扫一张志愿者证", "Scanner test: tap here, then "
                         "scan a volunteer card"),
    "dash.doctor_running": ("正在检查……", "Checking…"),
    # The findings themselves are in Chinese only (kiosk/doctor.py), as station staff read.
    "dash.doctor_chinese": ("", "The findings below are in Chinese."),
    "dash.by": ("交叉分组：不分组", "Cross-tab by: none"),
    "dash.question": ("交叉的题目", "Question to cross"),
    "dash.n": ("有效问卷 {n} 份（每 10 秒更新）", "{n} questionnaires (updated every 10 s)"),
    "dash.no_surveys": ("这台终端没有开放问卷。", "No questionnaire is offered here."),
    "dash.note": ("处理备注（可不填）", "Note (optional)"),
    "dash.start": ("开始处理", "Start"),
    "dash.close": ("办结", "Close"),
    "dash.pick_request": ("请先在表中选一条登记。", "Pick a request in the table first."),
    "dash.request_detail": ("需求：{description}\n联系人：{name}　电话：{phone}　地址：{address}",
                            "Request: {description}\nContact: {name}, phone {phone}, "
                            "address {address}"),
    "dash.request_done": ("回执码 {code} 的登记已改为：{state}。",
                          "Request {code} is now: {state}."),
    "dash.need_name": ("请先在右上角填写经办人姓名（记入操作记录）。",
                       "Type your name at the top first (it goes into the audit record)."),
    "dash.retry": ("重试", "Retry"),
    "dash.cancel": ("取消", "Cancel"),
    "dash.reprint": ("补打", "Reprint"),
    "dash.pick_job": ("请先在表中选一个打印任务。", "Pick a print job in the table first."),
    "dash.job_retry": ("打印任务 {job} 马上重试。", "Print job {job} will be tried again now."),
    "dash.job_cancel": ("打印任务 {job} 已取消。", "Print job {job} is cancelled."),
    "dash.job_reprint": ("打印任务 {job} 的补打已排队。", "A reprint of job {job} is queued."),
    "dash.pdf": ("PDF 报告 (.pdf)", "PDF report (.pdf)"),
    "dash.labels": ("用选项文字（不用代码）", "Choice labels instead of codes"),
    "dash.include_pii": ("包含个人信息（姓名、电话、地址）", "Include personal data (names, "
                         "phones, addresses)"),
    "dash.export": ("导出", "Export"),
    "dash.no_folder": ("找不到文件夹 {folder}：请插好U盘或改一个文件夹。",
                       "There is no folder {folder}: plug in the USB stick or pick another."),
    "dash.export_failed": ("导出到 {folder} 失败：{error}", "Export to {folder} failed: {error}"),
    "dash.set_aside": ("有 {n} 条记录同步时被中心数据库拒收，留在本机未发送（其余已同步）。"
                       "可在「导出」页导出查看，或用 kiosk set-aside。",
                       "{n} rows were refused by the central database and stay on this kiosk "
                       "(the rest were synced); export them on the Export tab or with "
                       "kiosk set-aside."),
    "dash.export_set_aside": ("导出同步留存记录", "Export rows held back from sync"),
    "dash.exported": ("已导出 {count} 份到 {path}", "Exported {count} to {path}"),
    "dash.likert": ("平均 {mean}；满意（前两项）{top2}", "mean {mean}; top two {top2}"),
    "dash.per_instance": ("按人次：共 {instances} 人次，来自 {submissions} 份问卷",
                          "per instance: {instances} instances from {submissions} submissions"),
    "dash.numbers": ("平均 {mean}，标准差 {sd}，最小 {min}，中位数 {median}，最大 {max}",
                     "mean {mean}, sd {sd}, min {min}, median {median}, max {max}"),
    "dash.out_of_range": ("（另有 {n} 个超出范围的数值未计入）",
                           " ({n} values past any answer left out)"),
    "dash.text_answers": ("{n} 条回答", "{n} answers"),
    "dash.text_where": ("（在「文字回答」页逐条阅读）", " (read them on the Text answers tab)"),
    "dash.tab_texts": ("文字回答", "Text answers"),
    "dash.texts_search": ("搜索回答中的字词", "Search the answers"),
    "dash.texts_none": ("这份问卷没有可以查看的文字题。",
                        "This questionnaire has no text question to read here."),
    "dash.texts_summary": ("共 {n} 条回答，{kinds} 种不同的说法（相同的合在一起，多的在前）",
                           "{n} answers, {kinds} different ones (identical ones together, "
                           "most frequent first)"),
    "dash.texts_found": ("含“{search}”的回答 {n} 条，{kinds} 种（全部 {total} 条）",
                         "{n} answers with “{search}”, {kinds} different ({total} in all)"),
    "dash.texts_nothing": ("没有符合的回答。", "No answer matches."),
    "dash.texts_question": ("{label}（{n} 条）", "{label} ({n})"),
    "dash.texts_count": ("人数", "times"),
    "dash.ticked": ("已选", "on"),
    "dash.unticked": ("未选", "off"),
    "dash.texts_answer": ("回答", "answer"),
    "dash.texts_page": ("第 {page} / {pages} 页", "page {page} of {pages}"),
    "dash.texts_previous": ("◀ 上一页", "◀ Previous"),
    "dash.texts_next": ("下一页 ▶", "Next ▶"),
    "dash.crosstab": ("交叉表", "cross-tab"),
    "dash.columns.requests": ("回执码 登记时间 类别 紧急程度 社区 状态 备注",
                              "code submitted category urgency community state note"),
    "dash.columns.print_jobs": ("编号 时间 种类 内容 状态 尝试 问题",
                                "job queued kind title state attempts problem"),
    "dash.columns.volunteers": ("编号 姓名 服务队 签到 签退 时长 状态",
                                "number name team in out hours state"),
    # ---- the households register (家庭名单) ----
    "dash.tab_households": ("家庭名单", "Households"),
    "dash.columns.households": ("下次走访 家庭 状态 方案 最近走访 次数 冲突",
                                "due household state plan last visits conflict"),
    "dash.households_none": ("还没有登记的家庭：填写登记问卷（如适老化改造需求评估）后，"
                             "家庭就会出现在这里。",
                             "No household registered yet: they appear here once a "
                             "registering questionnaire is filled in."),
    "dash.households_summary": ("共 {count} 户，逾期未走访 {late} 户（每 {days} 天走访一次，"
                                "或按上次约定的日期）",
                                "{count} households, {late} overdue for a visit (every {days} "
                                "days, or on the date agreed at the last visit)"),
    "dash.household_pick": ("选中一户，查看它的走访记录和方案。",
                            "Pick a household to see its visits and plan."),
    "dash.household_visits": ("走访记录：", "Visits:"),
    "dash.household_conflict": ("⚠ 有两次离线走访同时修改了这一户：后一次的内容已采用，"
                                "请核对方案。",
                                "⚠ Two offline visits changed this household: the later one "
                                "was applied; please check the plan."),
    "dash.overdue": ("逾期 {days} 天", "{days} days overdue"),
    "dash.due_today": ("今天", "today"),
    "dash.due_in": ("{days} 天后", "in {days} days"),
    "dash.has_conflict": ("有冲突", "conflict"),
    # ---- notes and titles in the print queue (kept in both languages) ----
    "print.slip_title": ("签退 {name}", "check-out {name}"),
    "print.interrupted": ("打印时终端中断，补打", "kiosk stopped while printing: reprint"),
    "print.replaced": ("已替换", "replaced"),
    "print.test_page": ("测试页", "test page"),
    # ---- robustness ----
    "too_small": ("请放大窗口\nPlease enlarge the window", "Please enlarge the window\n请放大窗口"),
    "out_of_order": ("暂停服务，请找工作人员。", "Out of service; please ask the staff."),
}


def code_of(language: str | None) -> str:
    """``English (en)``, ``en`` or ``en-GB`` -> ``en``; anything else is Chinese."""
    if not language:
        return "zh"
    return "en" if language_code(language).lower().startswith("en") else "zh"


def tr(key: str, language: str, **values: object) -> str:
    """The kiosk string ``key`` in ``language`` (a code or a form language name)."""
    zh, en = STRINGS[key]
    text = en if code_of(language) == "en" else zh
    return text.format(**values) if values else text


def state_word(kind: str, state: str, language: str) -> str:
    """The one word for a state (``session_state``, ``session_flag``, ``correction``,
    ``print_state``, ``request_state``); an unknown state shows as itself."""
    key = f"{kind}.{state}"
    return tr(key, language) if key in STRINGS else state


def clock_text(moment: dt.datetime, language: str) -> str:
    """2026年11月23日 星期一 14:05 / Monday 23 November 2026, 14:05."""
    weekday = tr("weekday", language).split()[moment.weekday()]
    if code_of(language) == "en":
        month = tr("month", language).split()[moment.month - 1]
        return f"{weekday} {moment.day} {month} {moment.year}, {moment:%H:%M}"
    return f"{moment.year}年{moment.month}月{moment.day}日 {weekday} {moment:%H:%M}"


def both(key: str, **values: object) -> str:
    """English, then Chinese: for notes that staff of either language read later."""
    return f"{tr(key, 'en', **values)} / {tr(key, 'zh', **values)}"


def date_text(day: dt.date, language: str) -> str:
    """2026年11月23日 / 23 Nov 2026."""
    if code_of(language) == "en":
        month = tr("month.short", "en").split()[day.month - 1]
        return f"{day.day} {month} {day.year}"
    return f"{day.year}年{day.month}月{day.day}日"


def when_text(moment: dt.datetime, language: str) -> str:
    """2026年11月23日 14:05 / 23 Nov 2026 14:05."""
    return f"{date_text(moment.date(), language)} {moment:%H:%M}"


def short_date_text(day: dt.date, language: str) -> str:
    """11月24日（星期二） / Tuesday 24 November: a day this year, its weekday in brackets so
    "…前" reads as one date (11月24日 星期二前 could be read as before Tuesday)."""
    weekday = tr("weekday", language).split()[day.weekday()]
    if code_of(language) == "en":
        month = tr("month", "en").split()[day.month - 1]
        return f"{weekday} {day.day} {month}"
    return f"{day.month}月{day.day}日（{weekday}）"


def hours_text(hours: Decimal | float) -> str:
    """2.50 -> "2.5", 3.00 -> "3", 2.675 -> "2.68": to 0.01 h, half up like the hours
    themselves (on slips, screens and reports alike)."""
    exact = Decimal(str(hours)).quantize(HUNDREDTH, rounding=ROUND_HALF_UP)
    return f"{exact:f}".rstrip("0").rstrip(".")




def month_name(month: int, language: str) -> str:
    if code_of(language) == "en":
        return tr("month.short", language).split()[month - 1]
    return tr("date.month", language, value=month)
