package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"planledger/cmd/planledger/client"
	"strings"
	"time"
)

// The demo posts, through the HTTP API as a submitter would, a realistic
// year of the 2021 plan. Every event has a fixed id and the data comes from
// a fixed seed, so a second run stores nothing new.

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	srv := fs.String("server", "http://127.0.0.1:8080", "the ledger's HTTP API")
	token := fs.String("token", "", "an admin token (the demo writes for every society); or $PLANLEDGER_TOKEN")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	src := sourceFlags{server: *srv, token: *token}
	if src.bearer() == "" {
		return fmt.Errorf("--token is required: the admin token serve printed on first start")
	}
	c := client.New(src.server, src.bearer())
	d := newDemo()
	// Societies first: everything else names one.
	stats := demoStats{}
	for _, phase := range [][]demoBatch{d.societies, d.rest} {
		for _, b := range phase {
			if err := stats.post(ctx, c, b); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(stdout, "demo: %d batches, %d events: %d stored now, %d already in the ledger\n", stats.batches, stats.created+stats.existing, stats.created, stats.existing)
	return nil
}

type demoStats struct{ batches, created, existing int }

// post posts one batch; the client tries a 503 again with the same ids
// (stored at most once).
func (s *demoStats) post(ctx context.Context, c *client.Client, b demoBatch) error {
	events := make([]json.RawMessage, len(b))
	for i := range b {
		var err error
		if events[i], err = json.Marshal(b[i]); err != nil {
			return err
		}
	}
	res, err := c.PostEvents(ctx, events, true)
	if err != nil {
		return fmt.Errorf("batch for %s: %w", b[0].Subject, err)
	}
	if res.Created {
		s.created += len(b)
	} else {
		s.existing += len(b)
	}
	s.batches++
	return nil
}

type demoEvent struct {
	SpecVersion string `json:"specversion"`
	ID          string `json:"id"`
	Source      string `json:"source"`
	Type        string `json:"type"`
	Subject     string `json:"subject"`
	Time        string `json:"time"`
	Data        any    `json:"data"`
}

type demoBatch []demoEvent

type demo struct {
	r         *rand.Rand
	societies []demoBatch
	rest      []demoBatch
	ids       []string // society ids, not municipal
}

type obj = map[string]any

// at returns a business time in 2021 between the months given, in CST.
func (d *demo) at(fromMonth, toMonth int) time.Time {
	m := fromMonth + d.r.IntN(toMonth-fromMonth+1)
	return time.Date(2021, time.Month(m), 1+d.r.IntN(28), 9+d.r.IntN(8), 0, 0, 0, time.FixedZone("CST", 8*3600))
}

func day(t time.Time) string { return t.Format(time.DateOnly) }

func (d *demo) event(b *demoBatch, typ, subject string, when time.Time, data obj) {
	agg, _, _ := strings.Cut(subject, "/")
	*b = append(*b, demoEvent{SpecVersion: "1.0", ID: fmt.Sprintf("demo-%s-%d", strings.ReplaceAll(subject, "/", "-"), len(*b)+1),
		Source: "/demo/" + agg, Type: typ, Subject: subject, Time: when.Format(time.RFC3339), Data: data})
}

var demoSocieties = []struct{ id, name string }{
	{"hn-chem", "河南省化学会"}, {"hn-phys", "河南省物理学会"}, {"hn-math", "河南省数学会"}, {"hn-agri", "河南省农学会"},
	{"hn-med", "河南省医学会"}, {"hn-forest", "河南省林学会"}, {"hn-geo", "河南省地质学会"}, {"hn-meteo", "河南省气象学会"},
	{"hn-mech", "河南省机械工程学会"}, {"hn-elec", "河南省电子学会"}, {"hn-comp", "河南省计算机学会"}, {"hn-auto", "河南省自动化学会"},
	{"hn-civil", "河南省土木建筑学会"}, {"hn-water", "河南省水利学会"}, {"hn-env", "河南省环境科学学会"}, {"hn-food", "河南省食品科学技术学会"},
	{"hn-nutr", "河南省营养学会"}, {"hn-pharm", "河南省药学会"}, {"hn-tcm", "河南省中医药学会"}, {"hn-vet", "河南省畜牧兽医学会"},
	{"hn-crop", "河南省作物学会"}, {"hn-plantprot", "河南省植物保护学会"}, {"hn-soil", "河南省土壤肥料学会"}, {"hn-hort", "河南省园艺学会"},
	{"hn-biochem", "河南省生物化学与分子生物学学会"}, {"hn-psych", "河南省心理学会"}, {"hn-metal", "河南省金属学会"}, {"hn-coal", "河南省煤炭学会"},
	{"hn-materials", "河南省材料研究学会"}, {"hn-optics", "河南省光学学会"},
}

var demoCities = []string{"zhengzhou", "kaifeng", "luoyang", "pingdingshan", "anyang", "hebi", "xinxiang", "jiaozuo", "puyang",
	"xuchang", "luohe", "sanmenxia", "nanyang", "shangqiu", "xinyang", "zhoukou", "zhumadian", "jiyuan"}

func newDemo() *demo {
	d := &demo{r: rand.New(rand.NewPCG(2021, 9))}
	for i := 0; i < 150; i++ {
		id, name := fmt.Sprintf("hn-s%03d", i+1), fmt.Sprintf("河南省第%d学会", i+1)
		if i < len(demoSocieties) {
			id, name = demoSocieties[i].id, demoSocieties[i].name
		}
		kind := []string{"society", "society", "society", "association", "research_society"}[d.r.IntN(5)]
		d.society(id, name, kind)
		d.ids = append(d.ids, id)
	}
	for _, c := range demoCities {
		d.society(c+"-kx", c+" 科协", "municipal_association")
	}
	d.decisions()
	d.conferences()
	d.teams()
	d.projects()
	return d
}

func (d *demo) society(id, name, kind string) {
	var b demoBatch
	subj := "society/" + id
	d.event(&b, "society.registered", subj, d.at(1, 2), obj{"name": name, "kind": kind, "city": demoCities[d.r.IntN(len(demoCities))]})
	if d.r.IntN(100) < 85 {
		orgs := []string{"party_committee", "general_branch", "branch", "branch", "joint_branch", "functional"}
		est := d.at(3, 6)
		d.event(&b, "society.party_organization_established", subj, est, obj{"org_type": orgs[d.r.IntN(len(orgs))], "members": 3 + d.r.IntN(40), "established_on": day(est)})
	}
	if d.r.IntN(100) < 80 {
		d.event(&b, "society.annual_inspection_recorded", subj, d.at(3, 5), obj{"year": 2020, "result": []string{"pass", "pass", "pass", "basic_pass", "fail"}[d.r.IntN(5)]})
	}
	if d.r.IntN(100) < 70 {
		d.event(&b, "society.party_building_assessed", subj, d.at(2, 4), obj{"year": 2020, "score": 60 + d.r.IntN(41)})
	}
	if d.r.IntN(100) < 60 {
		held := d.at(4, 7)
		d.event(&b, "society.party_history_activity_held", subj, held, obj{"title": "党史学习教育专题学习", "participants": 10 + d.r.IntN(90), "held_on": day(held)})
	}
	if d.r.IntN(100) < 85 {
		start := time.Date(2016+d.r.IntN(6), time.Month(1+d.r.IntN(12)), 1+d.r.IntN(28), 0, 0, 0, 0, time.UTC)
		when := time.Date(start.Year(), start.Month(), start.Day(), 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
		if when.Year() < 2021 {
			when = d.at(1, 3) // recorded into the ledger in 2021
		}
		d.event(&b, "society.reelection_held", subj, when, obj{"term_start": day(start), "term_years": []int{4, 5, 5, 5}[d.r.IntN(4)], "leadership": d.leadership()})
		if d.r.IntN(100) < 20 {
			d.event(&b, "society.leadership_changed", subj, d.at(7, 11), obj{"added": []obj{{"member_id": "m-new", "role": "director", "sector": "enterprise"}}, "removed": []string{"m01"}})
		}
	}
	d.societies = append(d.societies, b)
}

// leadership makes a body near 3:3:3:1 (one member moved between sectors
// at random); about one in four leans heavily on universities instead.
func (d *demo) leadership() []obj {
	size := 15 + d.r.IntN(16)
	weights := []float64{0.3, 0.3, 0.3, 0.1}
	if d.r.IntN(4) == 0 {
		weights = []float64{0.55, 0.2, 0.15, 0.1}
	}
	sectors := []string{"university", "research_institute", "enterprise", "government"}
	counts := make([]int, 4)
	total := 0
	for k, w := range weights {
		counts[k] = int(w*float64(size) + 0.5)
		total += counts[k]
	}
	if from, to := d.r.IntN(3), d.r.IntN(3); counts[from] > 1 {
		counts[from]--
		counts[to]++
	}
	roles := []string{"president", "vice_president", "vice_president", "secretary_general"}
	var out []obj
	for k, n := range counts {
		for j := 0; j < n; j++ {
			out = append(out, obj{"sector": sectors[k]})
		}
	}
	for len(out) < size {
		out = append(out, obj{"sector": "other"})
	}
	d.r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	for i := range out {
		role := "director"
		if i < len(roles) {
			role = roles[i]
		} else if i < 10 {
			role = "standing_director"
		}
		out[i]["member_id"], out[i]["role"] = fmt.Sprintf("m%02d", i+1), role
	}
	return out
}

func (d *demo) decisions() {
	cats := []string{"personnel", "major_work", "major_expense"}
	for i := 0; i < 40; i++ {
		var b demoBatch
		subj := fmt.Sprintf("decision/dec-2021-%03d", i+1)
		cat := cats[i%3]
		data := obj{"society_id": d.ids[d.r.IntN(len(d.ids))], "category": cat, "title": []string{"秘书长人选调整", "年度学术年会方案", "购置会议设备"}[i%3]}
		if cat == "major_expense" {
			data["amount_cny"] = 20000 + d.r.IntN(200000)
		}
		t := d.at(2, 5)
		d.event(&b, "decision.proposed", subj, t, data)
		stage := i % 6 // 0 proposed, 1 returned, 2 endorsed, 3 failed, 4 passed, 5 published
		next := func() time.Time { t = t.Add(time.Duration(3+d.r.IntN(20)) * 24 * time.Hour); return t }
		if stage >= 1 {
			outcome := "endorsed"
			if stage == 1 {
				outcome = "returned"
			}
			d.event(&b, "decision.party_reviewed", subj, next(), obj{"outcome": outcome, "opinion": "党委会研究意见"})
		}
		if stage >= 3 {
			inOffice := 15 + d.r.IntN(20)
			present := inOffice
			votesFor := present
			if stage == 3 {
				votesFor = present / 2
			}
			d.event(&b, "decision.voted", subj, next(), obj{"body": "standing_council", "members_in_office": inOffice, "present": present, "votes_for": votesFor, "votes_against": present - votesFor, "abstentions": 0})
		}
		if stage == 5 {
			pub := next()
			d.event(&b, "decision.published", subj, pub, obj{"channel": "学会官网", "published_on": day(pub)})
		}
		d.rest = append(d.rest, b)
	}
}

func (d *demo) conferences() {
	type conf struct{ id, title, level, program, city string }
	confs := []conf{
		{"zz-food-2021", "一市一品·郑州食品产业技术大会", "provincial", "one_city_one_product", "zhengzhou"},
		{"ly-equip-2021", "一市一品·洛阳装备制造产业技术大会", "provincial", "one_city_one_product", "luoyang"},
		{"ny-tcm-2021", "一市一品·南阳中医药产业技术大会", "provincial", "one_city_one_product", "nanyang"},
		{"intl-tech-forum-2021", "中国（河南）国际科技合作论坛", "international", "platform", "zhengzhou"},
		{"yellow-river-forum-2021", "黄河流域生态保护和高质量发展论坛", "national", "platform", "zhengzhou"},
		{"cast-annual-2021", "河南省科协年会", "provincial", "platform", "kaifeng"},
	}
	for i := 0; i < 26; i++ {
		confs = append(confs, conf{fmt.Sprintf("ax-2021-%02d", i+1), fmt.Sprintf("重点学术交流活动 %d", i+1), []string{"national", "provincial", "provincial"}[i%3], "academic_exchange", demoCities[i%len(demoCities)]})
	}
	for i, c := range confs {
		var b demoBatch
		subj := "conference/" + c.id
		d.event(&b, "conference.registered", subj, d.at(3, 5), obj{"title": c.title, "level": c.level, "program": c.program, "organizer_society": d.ids[i%len(d.ids)], "city": c.city})
		sessions := 1 + d.r.IntN(3)
		if c.program == "academic_exchange" && i%13 == 0 {
			sessions = 0 // registered, not held yet
		}
		for s := 0; s < sessions; s++ {
			held := d.at(6, 11)
			d.event(&b, "conference.session_held", subj, held, obj{"session_title": fmt.Sprintf("第%d场", s+1), "held_on": day(held), "attendees": 50 + d.r.IntN(400), "online": d.r.IntN(4) == 0})
		}
		d.rest = append(d.rest, b)
	}
}

func (d *demo) teams() {
	industries := []string{"小麦", "食用菌", "中药材", "畜牧", "茶叶", "装备制造", "新材料", "食品加工", "电子信息", "花卉", "林果", "水产", "烟草", "棉花", "生物医药", "节能环保", "现代物流", "文化旅游", "矿山安全", "智慧农业"}
	for i, ind := range industries {
		var b demoBatch
		subj := fmt.Sprintf("service_team/team-%02d", i+1)
		d.event(&b, "service_team.formed", subj, d.at(3, 4), obj{"society_id": d.ids[(i*7)%len(d.ids)], "industry": ind, "title": ind + "产业科技服务团", "program": "one_industry_service_team"})
		for k := 0; k < 1+d.r.IntN(6); k++ {
			on := d.at(5, 11)
			d.event(&b, "service_team.service_delivered", subj, on, obj{
				"service_kind": []string{"experts", "technology", "services"}[d.r.IntN(3)], "partner_kind": []string{"village", "township", "enterprise", "institute", "school"}[d.r.IntN(5)],
				"partner_name": demoCities[d.r.IntN(len(demoCities))] + " 合作单位", "volunteers": 2 + d.r.IntN(10), "hours": 4 + d.r.IntN(40), "beneficiaries": 20 + d.r.IntN(500),
				"delivered_on": day(on), "problems_solved": d.r.IntN(6), "technologies_promoted": d.r.IntN(4), "talents_trained": d.r.IntN(30), "demonstrations": d.r.IntN(3)})
		}
		d.rest = append(d.rest, b)
	}
}

func (d *demo) projects() {
	plan := []struct {
		program      string
		n, completed int
		title        string
	}{
		{"one_industry_one_report", 7, 5, "产业发展研究报告"},
		{"one_enterprise_one_innovation", 25, 18, "企业关键技术联合攻关"},
		{"one_industry_one_society", 3, 2, "市级产业学会组建"},
		{"kechuang_china_pilot", 4, 3, "科创中国试点城市（园区）申报"},
		{"discipline_report", 4, 3, "学科与产业发展报告"},
		{"youth_talent", 10, 0, "青年人才托举跟踪"},
		{"award", 2, 1, "河南省第五届自然科学学术奖"},
	}
	for _, p := range plan {
		for i := 0; i < p.n; i++ {
			var b demoBatch
			subj := fmt.Sprintf("project/%s-%02d", strings.ReplaceAll(p.program, "_", "-"), i+1)
			d.event(&b, "project.registered", subj, d.at(3, 5), obj{"program": p.program, "title": fmt.Sprintf("%s %d", p.title, i+1), "lead_society": d.ids[d.r.IntN(len(d.ids))], "city": demoCities[d.r.IntN(len(demoCities))]})
			d.event(&b, "project.milestone_reached", subj, d.at(6, 7), obj{"milestone": "中期检查", "reached_on": day(d.at(6, 6))})
			switch {
			case i < p.completed:
				done := d.at(8, 12)
				d.event(&b, "project.completed", subj, done, obj{"completed_on": day(done), "deliverable": "成果报告"})
				if p.program == "one_enterprise_one_innovation" && i == 0 {
					// Completed by mistake, then retracted: it counts nowhere.
					d.event(&b, "project.event_retracted", subj, done.Add(48*time.Hour), obj{"event_id": b[len(b)-1].ID, "reason": "误报：项目尚未验收"})
				}
			case p.program == "one_enterprise_one_innovation" && i == p.n-1:
				d.event(&b, "project.cancelled", subj, d.at(9, 10), obj{"reason": "合作企业退出"})
			}
			d.rest = append(d.rest, b)
		}
	}
}
