// The teller console's own words, in both languages. Texts that come from the server (service
// names, documents, alert messages, and the vocabulary: counter states, pause reasons, outcomes,
// alert severities) arrive as {zh, en} and are not here.

export const MESSAGES = {
  page_title: { zh: "柜员台", en: "Teller console" },
  loading: { zh: "正在载入…", en: "Loading…" },
  lang_other: { zh: "English", en: "中文" },
  log_out: { zh: "退出登录", en: "Log out" },
  dismiss: { zh: "关闭提示", en: "Dismiss" },
  cancel: { zh: "取消", en: "Cancel" },

  live_connecting: { zh: "正在连接…", en: "Connecting…" },
  live_online: { zh: "实时连接正常", en: "Live" },
  live_offline: { zh: "连接中断，正在重连", en: "Offline, reconnecting" },

  login_title: { zh: "柜员登录", en: "Teller log-in" },
  login_hint: { zh: "请使用您的柜员账号登录。", en: "Log in with your staff account." },
  username: { zh: "用户名", en: "Username" },
  password: { zh: "密码", en: "Password" },
  log_in: { zh: "登录", en: "Log in" },
  err_login_missing: { zh: "请输入用户名和密码。", en: "Enter your username and password." },

  pick_title: { zh: "选择窗口", en: "Choose a counter" },
  pick_hint: {
    zh: "选择一个未开放的窗口签到。已有人签到的窗口不能选择。",
    en: "Sign in at a closed counter. Counters someone else holds cannot be chosen.",
  },
  counter_n: { zh: "{n}号窗口", en: "Counter {n}" },
  counter_free: { zh: "未开放 · 可签到", en: "Closed · available" },
  counter_taken_by: { zh: "{name} 使用中", en: "In use by {name}" },
  counter_mine: { zh: "您已在此签到", en: "You are signed in here" },
  sign_in_here: { zh: "在此签到", en: "Sign in here" },
  resume_here: { zh: "回到此窗口", en: "Return to this counter" },
  unavailable: { zh: "不可选", en: "Unavailable" },
  no_counters: { zh: "本网点没有窗口。", en: "This branch has no counters." },

  signed_in_as: { zh: "{name}", en: "{name}" },

  detail_idle: { zh: "按 + 叫下一位客户", en: "Press + to call the next customer" },
  detail_calling: { zh: "等待客户到窗口；到达后按 0 开始办理", en: "Waiting for the customer; press 0 when they arrive" },
  detail_serving: { zh: "办结时选择结果：1 办结 · 2 需重办 · 3 差错", en: "To finish, choose: 1 done · 2 redo · 3 error" },
  detail_paused: { zh: "原因：{reason}", en: "Reason: {reason}" },
  recalled_times: { zh: "已重呼 {n} 次", en: "Recalled {n}×" },

  no_ticket: { zh: "无当前客户", en: "No customer" },
  timer_idle: { zh: "已空闲", en: "Free for" },
  timer_paused: { zh: "已暂停", en: "Paused for" },
  timer_calling: { zh: "呼叫后已过", en: "Called" },
  timer_serving: { zh: "办理用时", en: "Serving for" },
  timer_line: { zh: "标准 {usual} 分钟 · 超时线 {line}", en: "Usual {usual} min · overrun at {line}" },
  timer_near: { zh: "接近超时", en: "Nearing overrun" },
  timer_over: { zh: "已超时", en: "Overrun" },

  help_pending: { zh: "已请求授权/协助，等待大堂经理", en: "Authorization/help requested — waiting for the manager" },
  documents_title: { zh: "所需材料", en: "Required documents" },
  no_documents: { zh: "无需材料", en: "No documents needed" },

  waiting_title: { zh: "本窗口业务等候", en: "Waiting for this counter" },
  waiting_count: { zh: "{n} 人", en: "{n} waiting" },
  waiting_eta: { zh: "新取号约 {m} 分钟", en: "new ticket ≈ {m} min" },
  waiting_total: { zh: "合计 {n} 人等候", en: "{n} waiting in all" },

  alerts_title: { zh: "提醒", en: "Alerts" },

  actions_title: { zh: "操作", en: "Actions" },
  act_call: { zh: "叫号", en: "Call next" },
  act_recall: { zh: "重呼", en: "Recall" },
  act_start: { zh: "开始办理", en: "Start" },
  act_no_show: { zh: "未到", en: "No-show" },
  complete_title: { zh: "办结（选择结果）", en: "Complete (choose the outcome)" },
  act_transfer: { zh: "转业务…", en: "Transfer…" },
  act_help: { zh: "请求授权/协助", en: "Request help" },
  act_help_sent: { zh: "已请求协助", en: "Help requested" },
  act_pause: { zh: "暂停…", en: "Pause…" },
  act_resume: { zh: "恢复", en: "Resume" },
  act_close: { zh: "签出窗口…", en: "Close counter…" },
  shortcut_note: {
    zh: "快捷键（数字小键盘）标在每个按钮上；输入文字时不生效。焦点不在按钮上时 Enter 也可叫号。对话框中按数字选择，Esc 取消。",
    en: "Keypad shortcuts are shown on each button; they do nothing while you type. Enter also calls next when no button has focus. In a dialog, press a digit to choose, Esc to cancel.",
  },

  choose_transfer: { zh: "把 {ticket} 转到哪项业务？", en: "Transfer {ticket} to which service?" },
  choose_transfer_hint: {
    zh: "客户保留原号码，按取号时间排队。",
    en: "The customer keeps the number and their place by issue time.",
  },
  choose_pause: { zh: "暂停原因", en: "Reason for the pause" },
  choose_pause_hint: { zh: "暂停期间本窗口不叫号。", en: "The counter calls nobody while paused." },
  confirm_close: { zh: "签出 {n}号窗口？", en: "Close counter {n}?" },
  confirm_close_hint: {
    zh: "签出后窗口关闭，您仍保持登录，可以再选择窗口。",
    en: "The counter closes; you stay logged in and can choose a counter again.",
  },
  confirm_close_yes: { zh: "签出窗口", en: "Close the counter" },

  // Errors: a sentence of ours, then the server's own message beneath it.
  error_action: { zh: "“{action}”未完成", en: "“{action}” was not done" },
  error_generic: { zh: "操作未完成", en: "Not done" },
  server_said: { zh: "服务器答复：{message}", en: "Server: {message}" },
  err_queue_empty: { zh: "目前没有等候本窗口业务的客户。", en: "Nobody is waiting for this counter's services." },
  err_invalid_transition: {
    zh: "窗口状态已在别处改变，屏幕已刷新为最新状态。",
    en: "The counter's state changed elsewhere; the screen now shows the current state.",
  },
  err_no_current_ticket: { zh: "本窗口没有当前客户，屏幕已刷新。", en: "This counter has no current customer; the screen has been refreshed." },
  err_not_your_counter: { zh: "您已不在此窗口签到。", en: "You are no longer signed in at this counter." },
  err_counter_taken: { zh: "该窗口已有人签到，请选择其他窗口。", en: "Someone is already signed in at this counter; choose another." },
  err_already_signed_in: { zh: "您已在另一个窗口签到。", en: "You are already signed in at another counter." },
  err_bad_credentials: { zh: "用户名或密码不正确。", en: "Wrong username or password." },
  err_network: { zh: "无法连接服务器，请检查网络后重试。", en: "The server could not be reached; check the network and try again." },
  err_rate_limited: { zh: "尝试次数过多，请稍后再试。", en: "Too many attempts; wait a moment and try again." },
  err_session: { zh: "登录已失效，请重新登录。", en: "Your log-in has ended; please log in again." },
  err_same_service: { zh: "客户已在该业务中。", en: "The customer is already in that service." },
  err_busy_ticket: { zh: "请先办结或转出当前客户。", en: "Finish or transfer the current customer first." },
  err_unexpected: { zh: "页面出现意外错误，请刷新。", en: "Something unexpected went wrong; please reload." },
  err_wrong_role: { zh: "此账号不能使用柜员台。", en: "This account cannot use the teller console." },
};
