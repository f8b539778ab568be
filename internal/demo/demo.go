// Package demo generates a realistic synthetic data set for one demo
// account: several desks, AI agents with versions, integrations on the
// usual channels, human agents, about 5% test sessions, a daily and weekly
// rhythm, and recent sessions more often still open. The same seed and end
// day give the same sessions.
package demo

import (
	"fmt"
	"math"
	"math/rand"

	"github.com/tally-server/tally/internal/pgtext"
	"github.com/tally-server/tally/internal/session"
)

// Config says what to generate. Zero values take the defaults
// (WithDefaults).
type Config struct {
	Seed        int64
	Days        int   // default 90
	PerDay      int   // average sessions per weekday, default 3000
	EndMicros   int64 // generation stops here ("now"); required
	AccountSeed int64 // default 1: the demo account id derives from it
}

// WithDefaults returns c with every unset field at its default: 90 days
// of about 3000 sessions a weekday, account seed 1.
func (c Config) WithDefaults() Config {
	if c.Days <= 0 {
		c.Days = 90
	}
	if c.PerDay <= 0 {
		c.PerDay = 3000
	}
	if c.AccountSeed == 0 {
		c.AccountSeed = 1
	}
	return c
}

// Desk is a named demo desk.
type Desk struct {
	ID   pgtext.UUID
	Name string
}

// Dataset describes the generated account.
type Dataset struct {
	Account      pgtext.UUID
	Desks        []Desk
	Brains       []pgtext.UUID
	Integrations []pgtext.UUID
	Channels     []string
	Agents       []string
}

func uuidFrom(r *rand.Rand) pgtext.UUID {
	var u pgtext.UUID
	r.Read(u[:])
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // RFC 4122 variant
	return u
}

// Describe returns the account, desks and other dimensions the data set
// uses, without generating sessions.
func Describe(cfg Config) Dataset {
	r := rand.New(rand.NewSource(cfg.WithDefaults().AccountSeed))
	d := Dataset{Account: uuidFrom(r)}
	for _, name := range []string{"Support", "Sales", "Billing", "Onboarding"} {
		d.Desks = append(d.Desks, Desk{ID: uuidFrom(r), Name: name})
	}
	for i := 0; i < 3; i++ {
		d.Brains = append(d.Brains, uuidFrom(r))
	}
	d.Channels = []string{"web", "whatsapp", "facebook", "instagram", "viber", "intercom", "zendesk"}
	for range d.Channels {
		d.Integrations = append(d.Integrations, uuidFrom(r))
	}
	for i := 0; i < 12; i++ {
		d.Agents = append(d.Agents, uuidFrom(r).String())
	}
	return d
}

// hourWeight is a working-hours profile (UTC), peaking around midday.
var hourWeight = [24]float64{0.2, 0.15, 0.1, 0.1, 0.15, 0.3, 0.6, 1.0, 1.5, 1.9, 2.1, 2.2, 2.0, 2.1, 2.2, 2.0, 1.8, 1.5, 1.2, 1.0, 0.8, 0.6, 0.4, 0.3}

// Generate calls emit for every session, day by day, and returns
// how many it generated.
func Generate(cfg Config, emit func(*session.Record) error) (int, error) {
	cfg = cfg.WithDefaults()
	d := Describe(cfg)
	r := rand.New(rand.NewSource(cfg.Seed + 7))
	var hourSum float64
	for _, w := range hourWeight {
		hourSum += w
	}
	endDay := cfg.EndMicros - cfg.EndMicros%pgtext.MicrosPerDay
	startDay := endDay - int64(cfg.Days-1)*pgtext.MicrosPerDay
	n := 0
	for day := startDay; day <= endDay; day += pgtext.MicrosPerDay {
		weekday := (day/pgtext.MicrosPerDay + 4) % 7 // 1970-01-01 was a Thursday; 0 = Sunday
		dayFactor := 1.0
		if weekday == 0 || weekday == 6 {
			dayFactor = 0.45
		}
		growth := 0.85 + 0.3*float64(day-startDay)/float64(endDay-startDay+1)
		for h := 0; h < 24; h++ {
			mean := float64(cfg.PerDay) * dayFactor * growth * hourWeight[h] / hourSum
			count := int(mean + r.NormFloat64()*math.Sqrt(mean))
			for i := 0; i < max(count, 0); i++ {
				start := day + int64(h)*pgtext.MicrosPerHour + r.Int63n(pgtext.MicrosPerHour)
				if start > cfg.EndMicros {
					continue
				}
				rec := session.Record{
					AccountID: d.Account,
					SessionID: fmt.Sprintf("demo-%d-%06d", day/pgtext.MicrosPerDay, n),
					IsTest:    r.Float64() < 0.05,
				}
				rec.StartMicros = start
				desk := r.Intn(len(d.Desks))
				if r.Intn(3) == 0 {
					desk = 0 // Support gets the most traffic
				}
				rec.DeskID = pgtext.NullUUID{UUID: d.Desks[desk].ID, Valid: true}
				ch := r.Intn(len(d.Channels))
				if r.Intn(2) == 0 {
					ch = r.Intn(2) // web and whatsapp dominate
				}
				rec.Channel = session.NullString{String: d.Channels[ch], Valid: true}
				rec.IntegrationID = pgtext.NullUUID{UUID: d.Integrations[ch], Valid: true}
				if r.Intn(20) != 0 { // a few sessions never reach an AI agent
					b := r.Intn(len(d.Brains))
					rec.BrainParentID = pgtext.NullUUID{UUID: d.Brains[b], Valid: true}
					// Newer versions take over as time passes.
					age := float64(endDay-day) / float64(pgtext.MicrosPerDay)
					v := 5 - int(age/20) - r.Intn(2)
					rec.BrainVersion = pgtext.NullInt4{Int32: int32(max(v, 1)), Valid: true}
				}
				rec.AgentIDs = []string{}
				if r.Float64() < 0.3 { // handed over to people
					rec.AgentIDs = append(rec.AgentIDs, d.Agents[r.Intn(len(d.Agents))])
					if r.Float64() < 0.25 {
						rec.AgentIDs = append(rec.AgentIDs, d.Agents[r.Intn(len(d.Agents))])
					}
				}
				ageHours := float64(cfg.EndMicros-start) / float64(pgtext.MicrosPerHour)
				pOpen := 0.015 + 0.7*math.Exp(-ageHours/6)
				if r.Float64() >= pOpen {
					dur := int64(r.ExpFloat64() * float64(20*pgtext.MicrosPerMinute))
					if len(rec.AgentIDs) > 0 {
						dur += int64(r.ExpFloat64() * float64(2*pgtext.MicrosPerHour))
					}
					rec.EndMicros, rec.HasEnd = start+dur+pgtext.MicrosPerSecond, true
				}
				if err := emit(&rec); err != nil {
					return n, err
				}
				n++
			}
		}
	}
	return n, nil
}
