package web

// The site speaks Chinese first, in the plan's own words (豫科协办发〔2021〕9号),
// and English with ?lang=en. Two tables: the interface's phrases, and the
// labels of the ledger's codes (programmes, sectors, stages, ...).

// Languages.
const (
	langZH = "zh"
	langEN = "en"
)

// text is one phrase in both languages.
type text struct{ zh, en string }

func (t text) in(lang string) string {
	if lang == langEN {
		return t.en
	}
	return t.zh
}

// phrases are the interface's words, by key.
var phrases = map[string]text{
	"site.name":           {"河南省科协 学会学术工作台账", "Henan CAST society work ledger"},
	"nav.overview":        {"总览", "Overview"},
	"nav.societies":       {"学会", "Societies"},
	"nav.plan":            {"工作要点", "Plan"},
	"signin.title":        {"登录", "Sign in"},
	"signin.token":        {"令牌", "Token"},
	"signin.help":         {"请输入管理员发给您的令牌（以 plk_ 开头）。令牌只在本页提交，不会出现在网址中。", "Enter the token you were given (it starts with plk_). It is sent only from this form, never in an address."},
	"signin.submit":       {"登录", "Sign in"},
	"signin.bad":          {"令牌无效。", "That token is not valid."},
	"signin.expired":      {"登录表单已过期，请再试一次。", "The sign-in form expired; please try again."},
	"signout":             {"退出", "Sign out"},
	"signedin.as":         {"当前用户", "Signed in as"},
	"role.submitter":      {"报送单位", "submitter"},
	"role.auditor":        {"审计", "auditor"},
	"role.admin":          {"管理员", "admin"},
	"scope.submitter":     {"本令牌只可查看所属学会的详情；全省合计数对所有用户可见。", "This token reads its own societies' details only; province-wide totals are shown to everyone."},
	"asof.label":          {"查看某日状态", "As of"},
	"asof.axis":           {"时间轴", "Axis"},
	"asof.show":           {"查看", "Show"},
	"asof.now":            {"回到当前", "Back to now"},
	"axis.recorded":       {"按记录时间（账本当时所知）", "recorded (what the ledger knew then)"},
	"axis.occurred":       {"按发生时间（当时已发生、以现在所知）", "occurred (what had happened by then, as known now)"},
	"asof.banner":         {"历史状态：以下是截至 %s（北京时间）的情况，", "Past state: what follows is as of %s (China Standard Time), "},
	"asof.banner.reco":    {"按记录时间——账本当时记录了什么。", "on the recorded axis: what the ledger had recorded by then."},
	"asof.banner.occu":    {"按发生时间——当时已发生的事，以现在所知（含之后的撤回）。", "on the occurred axis: what had happened by then, as known now (later retractions applied)."},
	"asof.hidden":         {"此时刻之后的 %d 条记录未显示。", "%d later records are not shown."},
	"overview.title":      {"总览", "Overview"},
	"plan.in.force":       {"现行工作要点", "Plan in force"},
	"plan.none":           {"账本中还没有发布工作要点。", "No plan has been published in the ledger."},
	"programs":            {"“科创中原”五个一工程及各项工作", "Programmes"},
	"program":             {"项目", "Programme"},
	"target":              {"目标", "Target"},
	"delivered":           {"已完成", "Delivered"},
	"progress":            {"进度", "Progress"},
	"no.target":           {"未设目标", "no target"},
	"coverage":            {"党的组织覆盖", "Party organisation coverage"},
	"coverage.of":         {"%d 个学会中 %d 个已建立党组织", "%[2]d of %[1]d societies have a party organisation"},
	"coverage.note":       {"统计学会、协会、研究会；省辖市科协不计入。", "Societies, associations and research societies; municipal associations are not counted."},
	"coverage.without":    {"尚未建立党组织", "Without a party organisation"},
	"ratio":               {"“三三三一”制落实", "The 3:3:3:1 rule"},
	"ratio.note":          {"领导机构成员来自高校、科研院所、企业、党政机关，原则上按 3:3:3:1 构成，允许偏差 ±%s。", "Leadership members from universities, research institutes, enterprises and government in the proportion 3:3:3:1, within ±%s."},
	"reelections":         {"按期换届", "Re-elections"},
	"reelections.due":     {"逾期或即将到期", "Overdue or due soon"},
	"decisions":           {"“三议一公布”", "Major decisions (三议一公布)"},
	"volunteer":           {"一业一科技服务团·科技志愿服务", "Science volunteer services"},
	"conferences":         {"学术技术交流活动", "Conferences and exchanges"},
	"none":                {"无", "none"},
	"total":               {"合计", "Total"},
	"teams":               {"服务团", "teams"},
	"deliveries":          {"服务次数", "deliveries"},
	"volunteers":          {"志愿者人次", "volunteers"},
	"hours":               {"服务时长（小时）", "hours"},
	"beneficiaries":       {"受益人数", "beneficiaries"},
	"problems_solved":     {"解决企业科技难题", "problems solved"},
	"techs_promoted":      {"推广创新技术", "technologies promoted"},
	"talents_trained":     {"培养乡土人才", "local talents trained"},
	"demonstrations":      {"示范技术样板", "demonstrations"},
	"conf.count":          {"活动", "conferences"},
	"sessions":            {"场次", "sessions"},
	"online":              {"线上场次", "online sessions"},
	"attendees":           {"参加人数", "attendees"},
	"societies.title":     {"学会", "Societies"},
	"filter":              {"筛选", "Filter"},
	"filter.q":            {"名称或编号", "Name or id"},
	"filter.any":          {"全部", "any"},
	"filter.apply":        {"筛选", "Apply"},
	"filter.clear":        {"清除", "Clear"},
	"shown":               {"显示 %d / %d 个", "%d of %d shown"},
	"col.name":            {"名称", "Name"},
	"col.kind":            {"类型", "Kind"},
	"col.city":            {"城市", "City"},
	"col.party":           {"党组织", "Party organisation"},
	"col.shares":          {"领导机构构成", "Leadership shares"},
	"col.status":          {"三三三一", "3:3:3:1"},
	"col.term":            {"任期", "Term"},
	"col.reelection":      {"换届", "Re-election"},
	"col.id":              {"编号", "Id"},
	"yes":                 {"有", "yes"},
	"no":                  {"无", "no"},
	"society.profile":     {"基本情况", "Profile"},
	"society.leadership":  {"领导机构", "Leadership body"},
	"society.members":     {"%d 人", "%d members"},
	"society.memberlist":  {"成员名单", "Members"},
	"society.noleaders":   {"尚无换届记录，领导机构未知。", "No re-election recorded: the leadership body is unknown."},
	"society.share":       {"占比", "Share"},
	"society.target":      {"目标", "Target"},
	"society.maxdev":      {"最大偏差", "Largest deviation"},
	"society.partyorgs":   {"党组织", "Party organisations"},
	"society.assessments": {"党建工作量化考核", "Party-building assessments"},
	"society.inspections": {"年检", "Annual inspections"},
	"society.term":        {"任期与换届", "Term and re-election"},
	"term.start":          {"任期开始", "Term start"},
	"term.years":          {"任期（年）", "Term (years)"},
	"term.due":            {"应换届日期", "Due on"},
	"society.work":        {"相关事项", "Its decisions, conferences, teams and projects"},
	"society.timeline":    {"学会记录", "The society's history"},
	"member.id":           {"成员", "Member"},
	"member.role":         {"职务", "Role"},
	"member.sector":       {"来源", "Sector"},
	"members":             {"人数", "members"},
	"year":                {"年度", "Year"},
	"score":               {"得分", "Score"},
	"result":              {"结果", "Result"},
	"established":         {"成立日期", "Established"},
	"timeline":            {"记录", "History"},
	"timeline.of":         {"%s 的全部记录", "The history of %s"},
	"seq":                 {"序号", "Seq."},
	"version":             {"版本", "Version"},
	"event":               {"事件", "Event"},
	"occurred":            {"发生时间", "Occurred"},
	"recorded":            {"记录时间", "Recorded"},
	"submitter":           {"报送者", "Submitter"},
	"details":             {"内容", "Details"},
	"retracted":           {"已撤回", "Retracted"},
	"retracted.by":        {"已由第 %d 号记录撤回，理由：", "Retracted by record %d, reason: "},
	"retracts":            {"撤回记录 %s", "retracts %s"},
	"event.title":         {"记录 %s 第 %d 版", "%s, version %d"},
	"event.raw":           {"原始 JSON", "Raw JSON"},
	"event.id":            {"事件编号", "Event id"},
	"event.source":        {"来源", "Source"},
	"event.type":          {"类型", "Type"},
	"event.subject":       {"对象", "Subject"},
	"event.back":          {"返回全部记录", "Back to the history"},
	"owner":               {"所属学会", "Society"},
	"stage":               {"阶段", "Stage"},
	"status":              {"状态", "Status"},
	"title":               {"名称", "Title"},
	"error.title":         {"出错了", "Something went wrong"},
	"error.notfound":      {"没有找到，或您的令牌无权查看。", "Not found, or not readable with your token."},
	"error.internal":      {"服务器内部错误，已记录。", "An internal error; it has been logged."},
	"error.unavailable":   {"账本暂时无法访问，请稍后再试。", "The ledger's store is not answering; try again shortly."},
	"error.asof":          {"日期格式应为 2021-06-30 或 2021-06-30T12:00:00+08:00。", "Give the date as 2021-06-30 or 2021-06-30T12:00:00+08:00."},
	"error.axis":          {"时间轴只能是“记录”或“发生”。", "The axis is recorded or occurred."},
	"lang.other":          {"English", "中文"},
	"footer":              {"数据来自不可篡改的事件账本；页面只读。", "Read from the immutable event ledger; these pages change nothing."},
}

// labels name the ledger's codes, by kind then code.
var labels = map[string]map[string]text{
	"program": {
		"one_city_one_product":          {"一市一品", "One city, one product"},
		"one_industry_one_report":       {"一业一研报", "One industry, one report"},
		"one_enterprise_one_innovation": {"一企一创新", "One enterprise, one innovation"},
		"one_industry_one_society":      {"一业一会", "One industry, one society"},
		"one_industry_service_team":     {"一业一科技服务团", "One industry, one service team"},
		"kechuang_china_pilot":          {"“科创中国”试点市（园区）", "Kechuang China pilot cities and parks"},
		"platform":                      {"国际性、全国性学术技术交流平台", "International and national exchange platforms"},
		"academic_exchange":             {"学术技术交流重点活动", "Key academic exchange activities"},
		"discipline_report":             {"学科与产业发展研究报告", "Discipline and industry reports"},
		"youth_talent":                  {"青年人才托举工程", "Youth talent lifting programme"},
		"award":                         {"科技奖励评选与提名", "Science awards and nominations"},
	},
	"sector": {
		"university":         {"高校", "Universities"},
		"research_institute": {"科研院所", "Research institutes"},
		"enterprise":         {"企业", "Enterprises"},
		"government":         {"党政机关", "Government"},
		"other":              {"其他", "Other"},
	},
	"kind": {
		"society":               {"学会", "society"},
		"association":           {"协会", "association"},
		"research_society":      {"研究会", "research society"},
		"municipal_association": {"省辖市科协", "municipal association"},
	},
	"ratio": {
		"compliant":     {"符合", "compliant"},
		"non_compliant": {"不符合", "not compliant"},
		"unknown":       {"未知", "unknown"},
	},
	"term": {
		"current":  {"任期内", "current"},
		"due_soon": {"90 天内到期", "due within 90 days"},
		"overdue":  {"逾期未换届", "overdue"},
		"unknown":  {"无换届记录", "no re-election recorded"},
	},
	"stage": {
		"proposed":  {"理事长工作会已动议", "proposed"},
		"returned":  {"党委退回", "returned by the party committee"},
		"endorsed":  {"党委同意", "endorsed by the party committee"},
		"passed":    {"表决通过", "passed"},
		"failed":    {"表决未通过", "failed"},
		"published": {"决议已公布", "published"},
	},
	"category": {
		"personnel":     {"重大人事安排", "personnel"},
		"major_work":    {"重大工作事项", "major work item"},
		"major_expense": {"重大经费使用", "major expense"},
	},
	"org_type": {
		"party_committee": {"党委", "party committee"},
		"general_branch":  {"党总支", "general branch"},
		"branch":          {"党支部", "branch"},
		"joint_branch":    {"联合党支部", "joint branch"},
		"functional":      {"功能型党组织", "functional organisation"},
	},
	"role": {
		"president":         {"理事长", "president"},
		"vice_president":    {"副理事长", "vice president"},
		"secretary_general": {"秘书长", "secretary general"},
		"standing_director": {"常务理事", "standing director"},
		"director":          {"理事", "director"},
	},
	"result": {
		"pass":       {"合格", "pass"},
		"basic_pass": {"基本合格", "basic pass"},
		"fail":       {"不合格", "fail"},
	},
	"level": {
		"international": {"国际性", "international"},
		"national":      {"全国性", "national"},
		"provincial":    {"全省性", "provincial"},
		"municipal":     {"市级", "municipal"},
	},
	"outcome": {
		"endorsed": {"同意", "endorsed"},
		"returned": {"退回", "returned"},
	},
	"body": {
		"standing_council": {"常务理事会", "standing council"},
		"council":          {"理事会", "council"},
	},
	"service_kind": {
		"experts":    {"送专家", "experts"},
		"technology": {"送技术", "technology"},
		"services":   {"送服务", "services"},
	},
	"partner_kind": {
		"village":    {"会村联姻", "village"},
		"township":   {"会乡联姻", "township"},
		"enterprise": {"会企联姻", "enterprise"},
		"institute":  {"会院联姻", "institute"},
		"school":     {"会校联姻", "school"},
	},
	"project_status": {
		"active":    {"进行中", "active"},
		"completed": {"已完成", "completed"},
		"cancelled": {"已取消", "cancelled"},
	},
	"aggregate": {
		"plan":         {"工作要点", "plan"},
		"society":      {"学会", "society"},
		"decision":     {"重大决策", "decision"},
		"conference":   {"学术交流活动", "conference"},
		"service_team": {"科技服务团", "service team"},
		"project":      {"项目", "project"},
	},
	"event": {
		"plan.published":                         {"发布工作要点", "plan published"},
		"society.registered":                     {"登记", "registered"},
		"society.party_organization_established": {"建立党组织", "party organisation established"},
		"society.party_building_assessed":        {"党建工作量化考核", "party building assessed"},
		"society.party_history_activity_held":    {"党史学习教育活动", "party-history activity held"},
		"society.reelection_held":                {"换届", "re-election held"},
		"society.leadership_changed":             {"领导机构调整", "leadership changed"},
		"society.annual_inspection_recorded":     {"年检", "annual inspection"},
		"decision.proposed":                      {"一议：理事长工作会动议", "proposed"},
		"decision.party_reviewed":                {"二议：党委研究", "reviewed by the party committee"},
		"decision.voted":                         {"三议：理事会表决", "voted"},
		"decision.published":                     {"一公布：决议公布", "published"},
		"conference.registered":                  {"活动登记", "conference registered"},
		"conference.session_held":                {"举办", "session held"},
		"service_team.formed":                    {"组建服务团", "team formed"},
		"service_team.service_delivered":         {"开展科技志愿服务", "service delivered"},
		"project.registered":                     {"项目立项", "project registered"},
		"project.milestone_reached":              {"阶段节点", "milestone reached"},
		"project.completed":                      {"项目完成", "project completed"},
		"project.cancelled":                      {"项目取消", "project cancelled"},
		"retraction":                             {"撤回", "retraction"},
	},
	"city": {
		"zhengzhou": {"郑州", "Zhengzhou"}, "kaifeng": {"开封", "Kaifeng"}, "luoyang": {"洛阳", "Luoyang"},
		"pingdingshan": {"平顶山", "Pingdingshan"}, "anyang": {"安阳", "Anyang"}, "hebi": {"鹤壁", "Hebi"},
		"xinxiang": {"新乡", "Xinxiang"}, "jiaozuo": {"焦作", "Jiaozuo"}, "puyang": {"濮阳", "Puyang"},
		"xuchang": {"许昌", "Xuchang"}, "luohe": {"漯河", "Luohe"}, "sanmenxia": {"三门峡", "Sanmenxia"},
		"nanyang": {"南阳", "Nanyang"}, "shangqiu": {"商丘", "Shangqiu"}, "xinyang": {"信阳", "Xinyang"},
		"zhoukou": {"周口", "Zhoukou"}, "zhumadian": {"驻马店", "Zhumadian"}, "jiyuan": {"济源", "Jiyuan"},
	},
	// field names the data fields shown on an event's page.
	"field": {
		"name": {"名称", "name"}, "kind": {"类型", "kind"}, "city": {"城市", "city"},
		"org_type": {"党组织类型", "organisation"}, "members": {"党员人数", "members"}, "established_on": {"成立日期", "established on"},
		"year": {"年度", "year"}, "score": {"得分", "score"}, "title": {"名称", "title"},
		"participants": {"参加人数", "participants"}, "held_on": {"日期", "held on"},
		"term_start": {"任期开始", "term start"}, "term_years": {"任期（年）", "term (years)"}, "leadership": {"领导机构", "leadership"},
		"added": {"增补", "added"}, "removed": {"免去", "removed"}, "result": {"结果", "result"},
		"society_id": {"学会", "society"}, "category": {"事项类别", "category"}, "amount_cny": {"金额（元）", "amount (CNY)"},
		"outcome": {"党委意见", "outcome"}, "opinion": {"研究意见", "opinion"}, "body": {"表决机构", "voting body"},
		"members_in_office": {"在任人数", "members in office"}, "present": {"出席人数", "present"},
		"votes_for": {"赞成", "for"}, "votes_against": {"反对", "against"}, "abstentions": {"弃权", "abstentions"},
		"channel": {"公布渠道", "channel"}, "published_on": {"公布日期", "published on"},
		"level": {"级别", "level"}, "program": {"所属工程", "programme"}, "organizer_society": {"主办学会", "organizer"},
		"session_title": {"场次", "session"}, "attendees": {"参加人数", "attendees"}, "online": {"线上", "online"},
		"industry": {"服务产业", "industry"}, "service_kind": {"服务方式", "service"}, "partner_kind": {"联姻形式", "partner"},
		"partner_name": {"服务对象", "partner name"}, "volunteers": {"志愿者", "volunteers"}, "hours": {"时长（小时）", "hours"},
		"beneficiaries": {"受益人数", "beneficiaries"}, "delivered_on": {"服务日期", "delivered on"},
		"problems_solved": {"解决难题", "problems solved"}, "technologies_promoted": {"推广技术", "technologies promoted"},
		"talents_trained": {"培养人才", "talents trained"}, "demonstrations": {"技术样板", "demonstrations"},
		"lead_society": {"牵头学会", "lead society"}, "milestone": {"节点", "milestone"}, "reached_on": {"日期", "reached on"},
		"completed_on": {"完成日期", "completed on"}, "deliverable": {"成果", "deliverable"}, "reason": {"理由", "reason"},
		"event_id": {"被撤回的事件", "retracted event"}, "document_no": {"文号", "document no."},
		"targets": {"目标", "targets"}, "leadership_rule": {"三三三一规则", "3:3:3:1 rule"},
	},
}

// fieldKinds says which label kind names the values of a data field.
var fieldKinds = map[string]string{
	"kind": "kind", "city": "city", "org_type": "org_type", "result": "result", "category": "category",
	"outcome": "outcome", "body": "body", "level": "level", "program": "program",
	"service_kind": "service_kind", "partner_kind": "partner_kind",
}

// label names code of kind in lang; an unknown code is shown as it is.
func label(lang, kind, code string) string {
	if t, ok := labels[kind][code]; ok {
		return t.in(lang)
	}
	return code
}

// phrase is the interface's phrase key in lang; a missing key shows as
// itself (a test keeps every key the templates use in the table).
func phrase(lang, key string) string {
	if t, ok := phrases[key]; ok {
		return t.in(lang)
	}
	return key
}
