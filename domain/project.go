package domain

import "fmt"

// Project statuses.
const (
	StatusActive    = "active"
	StatusCompleted = "completed"
	StatusCancelled = "cancelled"
)

// ProjectRegisteredData is the data of project.registered.
type ProjectRegisteredData struct {
	Program     string `json:"program"`
	Title       string `json:"title"`
	LeadSociety string `json:"lead_society"`
	City        string `json:"city,omitempty"`
}

// ProjectMilestoneReachedData is the data of project.milestone_reached.
type ProjectMilestoneReachedData struct {
	Milestone string `json:"milestone"`
	ReachedOn Date   `json:"reached_on"`
}

// ProjectCompletedData is the data of project.completed.
type ProjectCompletedData struct {
	CompletedOn Date   `json:"completed_on"`
	Deliverable string `json:"deliverable"`
}

// ProjectCancelledData is the data of project.cancelled.
type ProjectCancelledData struct {
	Reason string `json:"reason"`
}

func (ProjectRegisteredData) EventType() EventType       { return ProjectRegistered }
func (ProjectMilestoneReachedData) EventType() EventType { return ProjectMilestoneReached }
func (ProjectCompletedData) EventType() EventType        { return ProjectCompleted }
func (ProjectCancelledData) EventType() EventType        { return ProjectCancelled }

func decodeProjectRegistered(f *fields) ProjectRegisteredData {
	return ProjectRegisteredData{
		Program:     f.enum("program", true, programNames(ProjectPrograms)),
		Title:       f.text("title", true, maxText),
		LeadSociety: f.slug("lead_society", true),
		City:        f.text("city", false, 100),
	}
}

func decodeProjectMilestoneReached(f *fields) ProjectMilestoneReachedData {
	return ProjectMilestoneReachedData{Milestone: f.text("milestone", true, maxText), ReachedOn: f.date("reached_on", true)}
}

func decodeProjectCompleted(f *fields) ProjectCompletedData {
	return ProjectCompletedData{CompletedOn: f.date("completed_on", true), Deliverable: f.text("deliverable", true, maxText)}
}

func decodeProjectCancelled(f *fields) ProjectCancelledData {
	return ProjectCancelledData{Reason: f.text("reason", true, maxText)}
}

// ProjectState is a programme project: registered, active, then completed
// or cancelled.
type ProjectState struct {
	Registered  bool                  `json:"registered"`
	Info        ProjectRegisteredData `json:"info"`
	Status      string                `json:"status"`
	Milestones  int                   `json:"milestones"`
	CompletedOn Date                  `json:"completed_on"`
}

func (s *ProjectState) exists() bool  { return s.Registered }
func (s *ProjectState) owner() string { return s.Info.LeadSociety }

func (s *ProjectState) check(f *Fact, env Env) []Problem {
	switch p := f.Payload.(type) {
	case ProjectRegisteredData:
		return knownSociety(p.LeadSociety, "/data/lead_society", env)
	case ProjectMilestoneReachedData, ProjectCompletedData, ProjectCancelledData:
		if s.Status != StatusActive {
			return []Problem{{Pointer: "/type", Detail: fmt.Sprintf("the project is %s: it takes no %s; retract the %s event first if it was wrong", s.Status, f.Type, s.Status)}}
		}
		switch p := p.(type) {
		case ProjectMilestoneReachedData:
			return notFuture(p.ReachedOn, "/data/reached_on", env)
		case ProjectCompletedData:
			return notFuture(p.CompletedOn, "/data/completed_on", env)
		}
	}
	return nil
}

func (s *ProjectState) apply(f *Fact) {
	switch p := f.Payload.(type) {
	case ProjectRegisteredData:
		s.Registered, s.Info, s.Status = true, p, StatusActive
	case ProjectMilestoneReachedData:
		s.Milestones++
	case ProjectCompletedData:
		s.Status, s.CompletedOn = StatusCompleted, p.CompletedOn
	case ProjectCancelledData:
		s.Status = StatusCancelled
	}
}
