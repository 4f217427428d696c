package notification

// OwnCodes is the CommunityID of a staff member's preference for the
// payments through the codes they own rather than a community's: a business
// manager's personal and extra codes and the printed code plates (码牌) made
// of them (M7, set in the managers' app under 设置). No community id
// contains "@" (generated "cm-…" ids, demo slugs), so this one never names a
// community, and a payment event, which carries its community's id, never
// reaches these preferences through Subscribers: the fan-out asks for the
// code owner's OwnCodes preference.
const OwnCodes = "@own-codes"
