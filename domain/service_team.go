package domain

var (
	serviceKinds = []string{"experts", "technology", "services"}
	partnerKinds = []string{"village", "township", "enterprise", "institute", "school"}
)

// ServiceTeamFormedData is the data of service_team.formed: a society forms
// a science service team (一业一科技服务团) for one industry.
type ServiceTeamFormedData struct {
	SocietyID string `json:"society_id"`
	Industry  string `json:"industry"`
	Title     string `json:"title"`
	Program   string `json:"program,omitempty"`
}

// ServiceDeliveredData is the data of service_team.service_delivered.
type ServiceDeliveredData struct {
	ServiceKind          string  `json:"service_kind"`
	PartnerKind          string  `json:"partner_kind"`
	PartnerName          string  `json:"partner_name"`
	Volunteers           int     `json:"volunteers"`
	Hours                float64 `json:"hours"`
	Beneficiaries        int     `json:"beneficiaries"`
	DeliveredOn          Date    `json:"delivered_on"`
	ProblemsSolved       int     `json:"problems_solved"`
	TechnologiesPromoted int     `json:"technologies_promoted"`
	TalentsTrained       int     `json:"talents_trained"`
	Demonstrations       int     `json:"demonstrations"`
}

func (ServiceTeamFormedData) EventType() EventType { return ServiceTeamFormed }
func (ServiceDeliveredData) EventType() EventType  { return ServiceTeamServiceDelivered }

func decodeServiceTeamFormed(f *fields) ServiceTeamFormedData {
	return ServiceTeamFormedData{
		SocietyID: f.slug("society_id", true),
		Industry:  f.text("industry", true, 200),
		Title:     f.text("title", true, maxText),
		Program:   f.enum("program", false, programNames(ServiceTeamPrograms)),
	}
}

func decodeServiceDelivered(f *fields) ServiceDeliveredData {
	const most = 100_000_000
	return ServiceDeliveredData{
		ServiceKind:          f.enum("service_kind", true, serviceKinds),
		PartnerKind:          f.enum("partner_kind", true, partnerKinds),
		PartnerName:          f.text("partner_name", true, 200),
		Volunteers:           int(f.integer("volunteers", 1, most)),
		Hours:                f.number("hours", true, 0, most),
		Beneficiaries:        int(f.integer("beneficiaries", 0, most)),
		DeliveredOn:          f.date("delivered_on", true),
		ProblemsSolved:       int(f.integer("problems_solved", 0, most)),
		TechnologiesPromoted: int(f.integer("technologies_promoted", 0, most)),
		TalentsTrained:       int(f.integer("talents_trained", 0, most)),
		Demonstrations:       int(f.integer("demonstrations", 0, most)),
	}
}

// ServiceTeamState is a volunteer service team and the totals of its
// deliveries.
type ServiceTeamState struct {
	Formed           bool                  `json:"formed"`
	Info             ServiceTeamFormedData `json:"info"`
	Totals           DeliveryTotals        `json:"totals"`
	FirstDeliveredOn Date                  `json:"first_delivered_on"`
}

// DeliveryTotals add up service deliveries.
type DeliveryTotals struct {
	Deliveries           int     `json:"deliveries"`
	Volunteers           int     `json:"volunteers"`
	Hours                float64 `json:"hours"`
	Beneficiaries        int     `json:"beneficiaries"`
	ProblemsSolved       int     `json:"problems_solved"`
	TechnologiesPromoted int     `json:"technologies_promoted"`
	TalentsTrained       int     `json:"talents_trained"`
	Demonstrations       int     `json:"demonstrations"`
}

// Add adds one delivery, or another total.
func (t *DeliveryTotals) Add(o DeliveryTotals) {
	t.Deliveries += o.Deliveries
	t.Volunteers += o.Volunteers
	t.Hours += o.Hours
	t.Beneficiaries += o.Beneficiaries
	t.ProblemsSolved += o.ProblemsSolved
	t.TechnologiesPromoted += o.TechnologiesPromoted
	t.TalentsTrained += o.TalentsTrained
	t.Demonstrations += o.Demonstrations
}

// Program is the programme the team delivers: one_industry_service_team
// unless it says otherwise.
func (s *ServiceTeamState) Program() string {
	if s.Info.Program != "" {
		return s.Info.Program
	}
	return string(ProgramOneIndustryServiceTeam)
}

func (s *ServiceTeamState) exists() bool  { return s.Formed }
func (s *ServiceTeamState) owner() string { return s.Info.SocietyID }

func (s *ServiceTeamState) check(f *Fact, env Env) []Problem {
	switch p := f.Payload.(type) {
	case ServiceTeamFormedData:
		return knownSociety(p.SocietyID, "/data/society_id", env)
	case ServiceDeliveredData:
		return notFuture(p.DeliveredOn, "/data/delivered_on", env)
	}
	return nil
}

func (s *ServiceTeamState) apply(f *Fact) {
	switch p := f.Payload.(type) {
	case ServiceTeamFormedData:
		s.Formed, s.Info = true, p
	case ServiceDeliveredData:
		s.Totals.Add(DeliveryTotals{Deliveries: 1, Volunteers: p.Volunteers, Hours: p.Hours, Beneficiaries: p.Beneficiaries,
			ProblemsSolved: p.ProblemsSolved, TechnologiesPromoted: p.TechnologiesPromoted, TalentsTrained: p.TalentsTrained, Demonstrations: p.Demonstrations})
		if s.FirstDeliveredOn.IsZero() || p.DeliveredOn.Before(s.FirstDeliveredOn) {
			s.FirstDeliveredOn = p.DeliveredOn
		}
	}
}
