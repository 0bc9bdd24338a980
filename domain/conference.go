package domain

var conferenceLevels = []string{"international", "national", "provincial", "municipal"}

// ConferenceRegisteredData is the data of conference.registered.
type ConferenceRegisteredData struct {
	Title            string `json:"title"`
	Level            string `json:"level"`
	Program          string `json:"program,omitempty"`
	OrganizerSociety string `json:"organizer_society"`
	City             string `json:"city,omitempty"`
}

// ConferenceSessionHeldData is the data of conference.session_held.
type ConferenceSessionHeldData struct {
	SessionTitle string `json:"session_title"`
	HeldOn       Date   `json:"held_on"`
	Attendees    int    `json:"attendees"`
	Online       bool   `json:"online"`
}

func (ConferenceRegisteredData) EventType() EventType  { return ConferenceRegistered }
func (ConferenceSessionHeldData) EventType() EventType { return ConferenceSessionHeld }

func decodeConferenceRegistered(f *fields) ConferenceRegisteredData {
	return ConferenceRegisteredData{
		Title:            f.text("title", true, maxText),
		Level:            f.enum("level", true, conferenceLevels),
		Program:          f.enum("program", false, programNames(ConferencePrograms)),
		OrganizerSociety: f.slug("organizer_society", true),
		City:             f.text("city", false, 100),
	}
}

func decodeConferenceSessionHeld(f *fields) ConferenceSessionHeldData {
	return ConferenceSessionHeldData{
		SessionTitle: f.text("session_title", true, maxText),
		HeldOn:       f.date("held_on", true),
		Attendees:    int(f.integer("attendees", 0, 10_000_000)),
		Online:       f.boolean("online"),
	}
}

// ConferenceState is an academic exchange event: a conference, forum or
// platform, with the sessions held so far.
type ConferenceState struct {
	Registered     bool                     `json:"registered"`
	Info           ConferenceRegisteredData `json:"info"`
	Sessions       int                      `json:"sessions"`
	OnlineSessions int                      `json:"online_sessions"`
	Attendees      int                      `json:"attendees"`
	FirstSessionOn Date                     `json:"first_session_on"`
}

func (s *ConferenceState) exists() bool  { return s.Registered }
func (s *ConferenceState) owner() string { return s.Info.OrganizerSociety }

func (s *ConferenceState) check(f *Fact, env Env) []Problem {
	switch p := f.Payload.(type) {
	case ConferenceRegisteredData:
		return knownSociety(p.OrganizerSociety, "/data/organizer_society", env)
	case ConferenceSessionHeldData:
		return notFuture(p.HeldOn, "/data/held_on", env)
	}
	return nil
}

func (s *ConferenceState) apply(f *Fact) {
	switch p := f.Payload.(type) {
	case ConferenceRegisteredData:
		s.Registered, s.Info = true, p
	case ConferenceSessionHeldData:
		s.Sessions++
		s.Attendees += p.Attendees
		if p.Online {
			s.OnlineSessions++
		}
		if s.FirstSessionOn.IsZero() || p.HeldOn.Before(s.FirstSessionOn) {
			s.FirstSessionOn = p.HeldOn
		}
	}
}
