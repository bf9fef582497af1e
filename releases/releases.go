package releases

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqljson"

	"github.com/tillpos/till/audit"
	"github.com/tillpos/till/auth/viewer"
	"github.com/tillpos/till/db"
	"github.com/tillpos/till/ent"
	"github.com/tillpos/till/ent/release"
	"github.com/tillpos/till/ent/schema/pulid"
	"github.com/tillpos/till/errs"
	"github.com/tillpos/till/releases/version"
)

// Limits on what a release holds.
const (
	MaxModels       = 50
	MaxModelLen     = 64
	MaxURLLen       = 2048
	MaxNotesRunes   = 10000
	MaxDeviceKeyLen = 128
)

// Service publishes releases and answers update checks.
type Service struct {
	db  *ent.Client
	now func() time.Time
}

// New returns a Service.
func New(client *ent.Client) *Service {
	return &Service{db: client, now: db.Now}
}

// PublishInput is a release an operator publishes.
type PublishInput struct {
	Models              []string
	Channel             release.Channel
	Version             string
	MinSupportedVersion *string
	DownloadURL         string
	Sha256              string
	Notes               *string
	RolloutPercent      int
}

// Publish adds a release. OPERATOR only.
//
// Errors: FORBIDDEN, BAD_USER_INPUT (naming the field), CONFLICT (the
// version is already published on the channel).
func (s *Service) Publish(ctx context.Context, in PublishInput) (*ent.Release, error) {
	v := viewer.FromContext(ctx)
	if !v.IsOperator() {
		return nil, errs.Newf(errs.Forbidden, "only platform operators publish releases")
	}
	if err := validatePublish(&in); err != nil {
		return nil, err
	}
	return db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Release, error) {
		rel, err := tx.Release.Create().
			SetModels(in.Models).
			SetChannel(in.Channel).
			SetVersion(in.Version).
			SetNillableMinSupportedVersion(in.MinSupportedVersion).
			SetDownloadURL(in.DownloadURL).
			SetSha256(in.Sha256).
			SetNillableNotes(in.Notes).
			SetRolloutPercent(in.RolloutPercent).
			SetPublishedAt(s.now()).
			SetPublishedBy(v.ID).
			Save(ctx)
		if ent.IsConstraintError(err) {
			return nil, &errs.Error{Code: errs.Conflict, Field: "version",
				Message: fmt.Sprintf("version %s is already published on the %s channel", in.Version, in.Channel)}
		}
		if err != nil {
			return nil, fmt.Errorf("publishing release: %w", err)
		}
		return rel, auditRelease(ctx, tx, "release.published", rel, map[string]any{
			"models": rel.Models, "channel": rel.Channel, "version": rel.Version,
			"rolloutPercent": rel.RolloutPercent, "sha256": rel.Sha256,
		})
	})
}

func validatePublish(in *PublishInput) error {
	models, err := normalizeModels(in.Models)
	if err != nil {
		return err
	}
	in.Models = models
	if err := release.ChannelValidator(in.Channel); err != nil {
		return errs.Invalid("channel", "must be STABLE or BETA")
	}
	if strings.Contains(in.Version, "+") {
		return errs.Invalid("version", "build metadata (+…) does not order versions; leave it out")
	}
	if in.Version, err = version.Parse(in.Version); err != nil {
		return errs.Invalid("version", "%s", err.Error())
	}
	if in.MinSupportedVersion != nil {
		minV, err := version.Parse(*in.MinSupportedVersion)
		if err != nil || strings.Contains(*in.MinSupportedVersion, "+") {
			return errs.Invalid("minSupportedVersion", "%s", version.ErrInvalid.Error())
		}
		if version.Compare(minV, in.Version) > 0 {
			return errs.Invalid("minSupportedVersion", "must not be newer than the release itself")
		}
		in.MinSupportedVersion = &minV
	}
	if in.DownloadURL, err = validateDownloadURL(in.DownloadURL); err != nil {
		return err
	}
	in.Sha256 = strings.ToLower(strings.TrimSpace(in.Sha256))
	if !isSHA256Hex(in.Sha256) {
		return errs.Invalid("sha256", "must be a SHA-256 digest: 64 hexadecimal digits")
	}
	if in.Notes != nil {
		notes := strings.TrimSpace(*in.Notes)
		if utf8.RuneCountInString(notes) > MaxNotesRunes {
			return errs.Invalid("notes", "must be at most %d characters", MaxNotesRunes)
		}
		in.Notes = &notes
	}
	return validatePercent(in.RolloutPercent)
}

// normalizeModels trims, de-duplicates and checks model names.
func normalizeModels(models []string) ([]string, error) {
	var out []string
	for _, m := range models {
		m = strings.TrimSpace(m)
		if err := validateModel("models", m); err != nil {
			return nil, err
		}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	switch {
	case len(out) == 0:
		return nil, errs.Invalid("models", "name at least one device model")
	case len(out) > MaxModels:
		return nil, errs.Invalid("models", "at most %d models", MaxModels)
	}
	return out, nil
}

// validateModel checks a model name as devices report it ("P2 Pro"):
// trimmed by the caller, 1 to MaxModelLen characters.
func validateModel(field, m string) error {
	if m == "" || len(m) > MaxModelLen {
		return errs.Invalid(field, "a model name is 1 to %d characters", MaxModelLen)
	}
	return nil
}

func validateDownloadURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || len(raw) > MaxURLLen || u.Scheme != "https" || u.Host == "" || u.User != nil ||
		strings.IndexFunc(raw, unicode.IsSpace) >= 0 {
		return "", errs.Invalid("downloadUrl", "must be an https:// URL of at most %d characters", MaxURLLen)
	}
	return raw, nil
}

func isSHA256Hex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := range len(s) {
		if (s[i] < '0' || s[i] > '9') && (s[i] < 'a' || s[i] > 'f') {
			return false
		}
	}
	return true
}

func validatePercent(p int) error {
	if p < 0 || p > 100 {
		return errs.Invalid("rolloutPercent", "must be 0 to 100")
	}
	return nil
}

// UpdateRollout changes the share of devices a published release is
// offered to. Raising it only adds devices: each keeps its bucket. OPERATOR
// only.
//
// Errors: FORBIDDEN, NOT_FOUND, BAD_USER_INPUT, CONFLICT (withdrawn).
func (s *Service) UpdateRollout(ctx context.Context, id pulid.ID, percent int) (*ent.Release, error) {
	if !viewer.FromContext(ctx).IsOperator() {
		return nil, errs.Newf(errs.Forbidden, "only platform operators change a rollout")
	}
	if err := validatePercent(percent); err != nil {
		return nil, err
	}
	rel, err := db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Release, error) {
		rel, err := getForUpdate(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if rel.Status != release.StatusPUBLISHED {
			return nil, errs.Newf(errs.Conflict, "the release is withdrawn")
		}
		before := rel.RolloutPercent
		if rel, err = tx.Release.UpdateOne(rel).SetRolloutPercent(percent).Save(ctx); err != nil {
			return nil, fmt.Errorf("changing rollout: %w", err)
		}
		return rel, auditRelease(ctx, tx, "release.rollout_changed", rel, map[string]any{"fromPercent": before, "toPercent": percent})
	})
	return rel, err
}

// Withdraw stops offering a release; devices that installed it are offered
// the newest release still published (even an older one is reported, but
// updateAvailable tells them not to downgrade). Withdrawing a withdrawn
// release changes nothing. OPERATOR only.
//
// Errors: FORBIDDEN, NOT_FOUND.
func (s *Service) Withdraw(ctx context.Context, id pulid.ID, reason string) (*ent.Release, error) {
	if !viewer.FromContext(ctx).IsOperator() {
		return nil, errs.Newf(errs.Forbidden, "only platform operators withdraw releases")
	}
	rel, err := db.InTx(ctx, s.db, func(tx *ent.Tx) (*ent.Release, error) {
		rel, err := getForUpdate(ctx, tx, id)
		if err != nil || rel.Status == release.StatusWITHDRAWN {
			return rel, err
		}
		if rel, err = tx.Release.UpdateOne(rel).SetStatus(release.StatusWITHDRAWN).SetWithdrawnAt(s.now()).Save(ctx); err != nil {
			return nil, fmt.Errorf("withdrawing release: %w", err)
		}
		return rel, auditRelease(ctx, tx, "release.withdrawn", rel, map[string]any{"reason": strings.TrimSpace(reason)})
	})
	return rel, err
}

// getForUpdate loads a release, locked on PostgreSQL until the transaction
// ends (SQLite runs one write transaction at a time anyway).
func getForUpdate(ctx context.Context, tx *ent.Tx, id pulid.ID) (*ent.Release, error) {
	ids, err := tx.Release.Query().Where(release.ID(id)).Select(release.FieldID).Modify(db.ForUpdate).Strings(ctx)
	if err != nil {
		return nil, fmt.Errorf("locking release: %w", err)
	}
	if len(ids) == 0 {
		return nil, &errs.Error{Code: errs.NotFound, Field: "releaseId", Message: "release not found"}
	}
	rel, err := tx.Release.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("loading release: %w", err)
	}
	return rel, nil
}

// auditRelease records a change to a release in the platform's audit log,
// in the change's transaction.
func auditRelease(ctx context.Context, tx *ent.Tx, action string, rel *ent.Release, details map[string]any) error {
	return audit.RecordPlatform(ctx, tx.Client(), audit.Entry{
		Action: action, TargetType: "Release", TargetID: rel.ID, Details: details,
	})
}

// Check is a device's question: is there a release for me?
type Check struct {
	Model          string
	Channel        release.Channel
	CurrentVersion string
	// DeviceKey identifies the device for its rollout buckets: its serial
	// number.
	DeviceKey string
}

// Update is the answer to a Check.
type Update struct {
	// Release is the newest published release for the device's model on its
	// channel whose rollout includes the device; nil when there is none.
	Release *ent.Release
	// UpdateAvailable is whether Release is newer than the device's version.
	UpdateAvailable bool
	// Mandatory is whether the device must install Release: its version is
	// older than the minimum supported version of Release or of a newer
	// release on its channel.
	Mandatory bool
}

// Unsupported reports whether appVersion of model is older than the
// newest minimum supported version among the published STABLE releases for
// the model, whatever their rollout: a version the platform no longer
// supports is unsupported on every device, whether or not the update has
// been offered to it yet (its health shows it). A version that does not
// parse is not judged.
func (s *Service) Unsupported(ctx context.Context, model, appVersion string) (bool, error) {
	current, err := version.Parse(appVersion)
	if err != nil {
		return false, nil
	}
	mins, err := s.db.Release.Query().
		Where(
			release.StatusEQ(release.StatusPUBLISHED),
			release.ChannelEQ(release.ChannelSTABLE),
			release.MinSupportedVersionNotNil(),
			forModel(model),
		).
		Select(release.FieldMinSupportedVersion).
		Strings(ctx)
	if err != nil {
		return false, fmt.Errorf("loading minimum supported versions: %w", err)
	}
	for _, m := range mins {
		if version.Compare(current, m) < 0 {
			return true, nil
		}
	}
	return false, nil
}

// forModel matches releases for model.
func forModel(model string) func(*sql.Selector) {
	return func(sel *sql.Selector) { sel.Where(sqljson.ValueContains(release.FieldModels, model)) }
}

// checkBatch is how many releases an update check reads at a time.
const checkBatch = 50

// CheckForUpdate finds the release a device should run. A STABLE device
// gets STABLE releases; a BETA device gets BETA releases and STABLE
// releases newer than the newest BETA release for its model. Releases whose
// rollout leaves the device out are passed over for older ones. Anyone
// signed in may ask.
//
// Errors: BAD_USER_INPUT (naming the argument).
func (s *Service) CheckForUpdate(ctx context.Context, c Check) (*Update, error) {
	c.Model = strings.TrimSpace(c.Model)
	if err := validateModel("model", c.Model); err != nil {
		return nil, err
	}
	channels := []release.Channel{release.ChannelSTABLE}
	switch c.Channel {
	case release.ChannelSTABLE:
	case release.ChannelBETA:
		channels = append(channels, release.ChannelBETA)
	default:
		return nil, errs.Invalid("channel", "must be STABLE or BETA")
	}
	current, err := version.Parse(c.CurrentVersion)
	if err != nil {
		return nil, errs.Invalid("currentVersion", "%s", err.Error())
	}
	c.DeviceKey = strings.TrimSpace(c.DeviceKey)
	if c.DeviceKey == "" || len(c.DeviceKey) > MaxDeviceKeyLen {
		return nil, errs.Invalid("serialNumber", "must be 1 to %d characters", MaxDeviceKeyLen)
	}
	// Newest first: the (channel, status, version_key) index serves the
	// order; the model test runs on the few releases of the channels.
	q := s.db.Release.Query().
		Where(
			release.StatusEQ(release.StatusPUBLISHED),
			release.ChannelIn(channels...),
			forModel(c.Model),
		).
		Order(release.ByVersionKey(sql.OrderDesc()), release.ByChannel(), release.ByID())
	out := &Update{}
	seenBeta := false
	for offset := 0; ; offset += checkBatch {
		batch, err := q.Clone().Offset(offset).Limit(checkBatch).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("loading releases: %w", err)
		}
		for _, rel := range batch {
			if rel.Channel == release.ChannelBETA {
				seenBeta = true
			} else if c.Channel == release.ChannelBETA && seenBeta {
				continue // a STABLE release older than the newest BETA
			}
			if rel.MinSupportedVersion != nil && version.Compare(current, *rel.MinSupportedVersion) < 0 {
				out.Mandatory = true
			}
			if InRollout(rel.ID, c.DeviceKey, rel.RolloutPercent) {
				out.Release = rel
				out.UpdateAvailable = version.Compare(rel.Version, current) > 0
				out.Mandatory = out.Mandatory && out.UpdateAvailable
				return out, nil
			}
		}
		if len(batch) < checkBatch {
			out.Mandatory = false // nothing to install
			return out, nil
		}
	}
}

// Bucket returns the device's rollout bucket for a release, 0 to 99: the
// first four bytes of SHA-256(releaseID ":" deviceKey), big-endian, mod 100.
func Bucket(releaseID pulid.ID, deviceKey string) int {
	sum := sha256.Sum256([]byte(string(releaseID) + ":" + deviceKey))
	return int(binary.BigEndian.Uint32(sum[:4]) % 100)
}

// InRollout reports whether a release rolled out to percent of devices is
// offered to the device with deviceKey.
func InRollout(releaseID pulid.ID, deviceKey string, percent int) bool {
	return Bucket(releaseID, deviceKey) < percent
}
