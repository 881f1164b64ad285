package jira

// EpicLinkField is the Data Center Epic Link field id the client has
// discovered ("" before the first pass, on Cloud, or when the site has
// none). It makes no request, so webhook handlers may call it per delivery
// (see WithEpicLinkField).
func (c *Client) EpicLinkField() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epicLink == nil {
		return ""
	}
	return *c.epicLink
}
