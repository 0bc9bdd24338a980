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
		Resolve:       s.webReader,
		SecureCookies: s.cfg.SecureCookies,
		Logger:        s.log,
	})
}

// webReader is who holds the token whose SHA-256 is hash, as the site
// needs to know it.
func (s *Server) webReader(hash [32]byte) (web.Reader, bool) {
	p, ok := s.tokens.byHash(hash)
	if !ok {
		return web.Reader{}, false
	}
	return web.Reader{Name: p.Name, Role: p.Role, Societies: p.Societies}, true
}
