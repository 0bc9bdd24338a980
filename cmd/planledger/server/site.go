package server

import (
	"planledger/cmd/planledger/web"
)

// site is the web pages for officers and auditors, reading the same store
// and views as the API, with the API's tokens.
func (s *Server) site() *web.Site {
	return web.New(web.Config{
		Store:         s.store,
		Views:         s.views,
		Tree:          s.tree,
		Resolve:       s.webReader,
		SecureCookies: s.cfg.SecureCookies,
		Logger:        s.log,
	})
}

// webReader is who holds the token whose SHA-256 is hash, as the site
// needs to know it.
func (s *Server) webReader(hash [32]byte) (web.Reader, bool) {
	p, ok := s.tokens.Current().ByHash(hash)
	if !ok {
		return web.Reader{}, false
	}
	return web.Reader{Name: p.Name, Role: p.Role, Societies: p.Societies}, true
}

// siteDocs documents the site's pages in the OpenAPI document, beside
// api()'s routes: a page the site registers without an entry here (or an
// entry without its page) fails TestOpenAPICoversRoutes.
var siteDocs = map[string]operation{
	"GET /{$}":                              sitePage("siteOverview", "The overview: programme progress, party coverage, the 三三三一 ratio, re-elections, decisions"),
	"GET /societies":                        sitePage("siteSocieties", "The societies, with their leadership ratio, party organisation and term"),
	"GET /societies/{id}":                   sitePage("siteSociety", "One society: its state and its history"),
	"GET /aggregates/{type}/{id}":           sitePage("siteAggregate", "One aggregate's history"),
	"GET /aggregates/{type}/{id}/{version}": sitePage("siteEvent", "One event of an aggregate, as stored, with its inclusion proof in the log"),
	"GET /aggregates/{type}/{id}/{version}/proof": {id: "siteEventProof", tag: "site", public: true,
		summary: "One event's inclusion proof, a C2SP tlog-proof to save (what planledger check-proof reads), against the checkpoint of ?size=N or the latest",
		params: append(pathParams("/aggregates/{type}/{id}/{version}"),
			queryParam("size", "the tree size of the signed checkpoint to prove against (default: the latest)", obj{"type": "integer", "minimum": 1})),
		replies: siteFile("the proof", "no such event, not readable with the token, not yet covered, or no checkpoint of that size")},
	"GET /log": sitePage("siteLog", "The verifiable log: the latest signed checkpoint, and how an auditor checks it"),
	"GET /log/checkpoint": {id: "siteCheckpoint", tag: "site", public: true,
		summary: "The latest signed checkpoint, a C2SP tlog-checkpoint to save (what planledger verify --checkpoint reads)",
		replies: siteFile("the checkpoint", "no checkpoint signed yet")},
	"GET /signin": {id: "siteSignInForm", tag: "site", summary: "The sign-in form", public: true,
		replies: []resp{htmlReply(200, "the form")}},
	"POST /signin": {id: "siteSignIn", tag: "site", summary: "Sign in with a token (a form post); the session is a cookie", public: true,
		body:    obj{"required": true, "content": obj{"application/x-www-form-urlencoded": obj{"schema": obj{"type": "object", "properties": obj{"token": obj{"type": "string"}, "next": obj{"type": "string"}}}}}},
		replies: []resp{{status: 303, description: "signed in: to the page asked for"}, htmlReply(401, "the token is not known"), htmlReply(403, "a cross-origin or expired form")}},
	"POST /signout": {id: "siteSignOut", tag: "site", summary: "Sign out (a form post)", public: true,
		replies: []resp{{status: 303, description: "signed out: to the sign-in form"}, {status: 403, description: "a cross-origin form, or a CSRF token that does not match", content: obj{"text/plain": obj{"type": "string"}}}}},
	"GET /static/{file...}": {id: "siteStatic", tag: "site", summary: "The site's style sheet, icon and the script of the in-browser proof check", public: true,
		params: []obj{pathParam("file", "the file", obj{"type": "string"})},
		replies: []resp{{status: 200, description: "the file", content: obj{"text/css": obj{"type": "string"}, "image/svg+xml": obj{"type": "string"}, "text/javascript": obj{"type": "string"}}},
			{status: 404, description: "no such file", content: obj{"text/plain": obj{"type": "string"}}}}},
}

// sitePage documents a page for a signed-in reader (the session cookie; a
// browser without one is sent to sign in).
func sitePage(id, summary string) operation {
	return operation{id: id, tag: "site", summary: summary, public: true,
		description: "An HTML page for people (Chinese first; ?lang=en for English; ?as_of=T&axis=recorded|occurred for the past), for a reader signed in at /signin.",
		replies:     []resp{htmlReply(200, "the page"), {status: 303, description: "no session: to /signin"}, htmlReply(400, "a bad as_of or axis"), htmlReply(404, "nothing there")}}
}

// siteFile documents a file the site gives a signed-in reader to save.
func siteFile(what, notFound string) []resp {
	return []resp{{status: 200, description: what + ", as an attachment", content: obj{"text/plain": obj{"type": "string"}}},
		{status: 303, description: "no session: to /signin"}, htmlReply(400, "a bad size, as_of or axis"), htmlReply(404, notFound)}
}

func htmlReply(status int, description string) resp {
	return resp{status: status, description: description, content: obj{"text/html": obj{"type": "string"}}}
}
