package domain

// Program is one of the plan's programmes (points 7-18 of the 2021 plan).
type Program string

// The programmes. Names are the wire contract.
const (
	ProgramOneCityOneProduct          Program = "one_city_one_product"
	ProgramOneIndustryOneReport       Program = "one_industry_one_report"
	ProgramOneEnterpriseOneInnovation Program = "one_enterprise_one_innovation"
	ProgramOneIndustryOneSociety      Program = "one_industry_one_society"
	ProgramOneIndustryServiceTeam     Program = "one_industry_service_team"
	ProgramKechuangChinaPilot         Program = "kechuang_china_pilot"
	ProgramPlatform                   Program = "platform"
	ProgramAcademicExchange           Program = "academic_exchange"
	ProgramDisciplineReport           Program = "discipline_report"
	ProgramYouthTalent                Program = "youth_talent"
	ProgramAward                      Program = "award"
)

// Programs lists every programme in the plan's order.
var Programs = []Program{
	ProgramOneCityOneProduct, ProgramOneIndustryOneReport, ProgramOneEnterpriseOneInnovation,
	ProgramOneIndustryOneSociety, ProgramOneIndustryServiceTeam, ProgramKechuangChinaPilot,
	ProgramPlatform, ProgramAcademicExchange, ProgramDisciplineReport, ProgramYouthTalent, ProgramAward,
}

// ConferencePrograms are delivered by a registered conference with at
// least one session held.
var ConferencePrograms = []Program{ProgramOneCityOneProduct, ProgramPlatform, ProgramAcademicExchange}

// ServiceTeamPrograms are delivered by a formed team with at least one
// delivery.
var ServiceTeamPrograms = []Program{ProgramOneIndustryServiceTeam}

// ProjectPrograms are delivered by a completed project.
var ProjectPrograms = []Program{
	ProgramOneIndustryOneReport, ProgramOneEnterpriseOneInnovation, ProgramOneIndustryOneSociety,
	ProgramKechuangChinaPilot, ProgramDisciplineReport, ProgramYouthTalent, ProgramAward,
}

func programNames(ps []Program) []string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return s
}
