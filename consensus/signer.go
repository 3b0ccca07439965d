package consensus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/libs/protoio"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/cosmos/gogoproto/proto"
	"github.com/rs/zerolog"

	"github.com/consort-ledger/consort/certs"
)

// DefaultSignTimeout bounds the key provider and store calls of one signing
// request. CometBFT's propose timeout is 3s; a request hanging longer than
// a few seconds has missed its step anyway.
const DefaultSignTimeout = 5 * time.Second

// Pauses between the attempts of a request while Vault fails (RetryFor).
const (
	retryFirstWait = 100 * time.Millisecond
	retryMaxWait   = 2 * time.Second
)

// ErrDoubleSignRefused marks a request the signer refuses because signing
// it could be a double sign; the error says which check refused it.
var ErrDoubleSignRefused = errors.New("refused to sign: possible double sign")

// SignerConfig configures a Signer.
type SignerConfig struct {
	// StateFile keeps this signer's last-sign state (written with mode
	// 0600 before any signature is given out). Required; its folder must
	// exist. A missing file is a signer that never signed.
	StateFile string
	// KeyName names the validator key in Store: its shared watermark and key
	// schedule live under StorePath(KeyName). Required with Store.
	KeyName string
	// Store, if set, holds the shared double-sign watermark and the key
	// schedule of the validator, for every signer of it (an active one and
	// standbys). Default nil: the local state alone guards, and
	// InitialVersion signs every height.
	Store certs.VersionedStore
	// InitialVersion is the key version that signs from height 1 while the
	// store holds no key schedule. Default 1.
	InitialVersion int
	// Timeout bounds the key provider and store calls of one request.
	// Default DefaultSignTimeout.
	Timeout time.Duration
	// Height returns the node's latest committed height; GetPubKey answers
	// for the height after it. Default nil: the last signed height (see
	// SetHeightSource). A source that returns 0 or less counts as unset.
	Height func() int64
	// Metrics records what the signer does. Default NopSignerMetrics().
	Metrics *SignerMetrics
	// RetryFor is how long one request keeps retrying while the key
	// provider, the store or the state file fails, before it fails.
	// Default 0: fail at once, so CometBFT logs the missed vote and the
	// other validators carry the round on, and the next request tries
	// again. A validator with more than 2/3 of the voting power alone has
	// nobody to carry the round on: CometBFT would wait forever for the
	// vote it missed, so such a node must wait for Vault instead
	// (NewNodeWithSigner sets this for it).
	RetryFor time.Duration
}

// Signer is a CometBFT PrivValidator whose key lives in a certs.KeyProvider
// (Vault transit in production). Like privval.FilePV it signs each height,
// round and step at most once, keeping the last signature in a state file
// that is written before the signature is given out; with a Store it also
// claims each position in a watermark shared by every signer of the
// validator before signing (watermark), so an active and a standby signer
// cannot both sign one position differently. The key version signing a
// height comes from the key schedule (ScheduleKeyVersion). A key provider
// or store that fails makes a request fail, never sign twice; the next
// request tries again.
type Signer struct {
	cfg     SignerConfig
	keys    certs.KeyProvider
	logger  zerolog.Logger
	metrics *SignerMetrics

	// mu serialises requests: the state check, the claim, the signature
	// and the state write of one request are one step.
	mu    sync.Mutex
	state signState
	// schedule was read from the store for heights up to scheduleHeight;
	// a request at a higher height reads it again.
	schedule       KeySchedule
	scheduleHeight int64
	pubKeys        map[int]crypto.PubKey // by version; versions never change
	height         func() int64
}

var _ cmttypes.PrivValidator = (*Signer)(nil)

// NewSigner returns a Signer over keys with its state from cfg.StateFile.
func NewSigner(cfg SignerConfig, keys certs.KeyProvider, logger zerolog.Logger) (*Signer, error) {
	if cfg.StateFile == "" {
		return nil, errors.New("signer: state file is required")
	}
	if cfg.Store != nil && cfg.KeyName == "" {
		return nil, errors.New("signer: a key name is required with a shared store")
	}
	if keys == nil {
		return nil, errors.New("signer: key provider is required")
	}
	if cfg.InitialVersion < 1 {
		cfg.InitialVersion = 1
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultSignTimeout
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NopSignerMetrics()
	}
	if fi, err := os.Stat(filepath.Dir(cfg.StateFile)); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("signer: folder of state file %s does not exist", cfg.StateFile)
	}
	st, err := loadSignState(cfg.StateFile)
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	s := &Signer{
		cfg: cfg, keys: keys, metrics: cfg.Metrics, state: st, height: cfg.Height,
		logger:   logger.With().Str("module", "signer").Str("key", cfg.KeyName).Logger(),
		schedule: KeySchedule{{Version: cfg.InitialVersion, FromHeight: 1}},
		pubKeys:  map[int]crypto.PubKey{},
	}
	if st.Height > 0 {
		s.metrics.LastSignedHeight.Set(float64(st.Height))
	}
	return s, nil
}

// SetHeightSource replaces the height source (SignerConfig.Height): the
// in-process node passes its block store's height once the node exists.
func (s *Signer) SetHeightSource(height func() int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.height = height
}

// GetPubKey returns the public key of the version that signs the next
// height: the one after the height source's, or else the last signed
// height. CometBFT asks again after every commit, so a scheduled rotation
// takes effect at its height without a restart. A store that cannot be
// read keeps the schedule read last.
func (s *Signer) GetPubKey() (crypto.PubKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := max(s.state.Height, 1)
	if s.height != nil {
		if h := s.height(); h > 0 {
			next = h + 1
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	if err := s.refreshSchedule(ctx, next); err != nil {
		s.logger.Warn().Err(err).Int64("height", next).Msg("key schedule not readable; using the one read before")
	}
	version := s.schedule.VersionAt(next)
	pub, err := s.pubKey(ctx, version)
	if err != nil {
		s.metrics.Errors.WithLabelValues(SignerErrorKey).Inc()
		s.logger.Error().Err(err).Int("version", version).Msg("validator public key unavailable")
		return nil, err
	}
	return pub, nil
}

// SignVote signs vote as privval.FilePV does: a repeat of the last signed
// vote gets the stored signature (and the stored timestamp if only the
// timestamp differs); non-nil precommits get an extension signature, made
// afresh each time.
func (s *Signer) SignVote(chainID string, vote *cmtproto.Vote) error {
	start := time.Now()
	defer func() { s.metrics.SignDuration.Observe(time.Since(start).Seconds()) }()
	return s.retry(start, func() error { return s.signVote(chainID, vote) })
}

func (s *Signer) signVote(chainID string, vote *cmtproto.Vote) error {
	if vote == nil {
		return s.fail(SignerErrorRequest, errors.New("sign vote: no vote"))
	}
	var step int8
	switch vote.Type {
	case cmtproto.PrevoteType:
		step = stepPrevote
	case cmtproto.PrecommitType:
		step = stepPrecommit
	default:
		return s.fail(SignerErrorRequest, fmt.Errorf("sign vote: unknown vote type %v", vote.Type))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pos := hrs{Height: vote.Height, Round: vote.Round, Step: step}
	same, err := s.checkLocal(pos)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	version, err := s.versionFor(ctx, pos, same)
	if err != nil {
		return err
	}
	signBytes := cmttypes.VoteSignBytes(chainID, vote)

	// As FilePV: extensions are not deterministic, so the extension of a
	// non-nil precommit is signed on every request; other votes carry none.
	var extSig []byte
	if vote.Type == cmtproto.PrecommitType && !cmttypes.ProtoBlockIDIsNil(&vote.BlockID) {
		if extSig, err = s.keys.Sign(ctx, version, cmttypes.VoteExtensionSignBytes(chainID, vote)); err != nil {
			return s.fail(SignerErrorKey, fmt.Errorf("sign vote extension at %s with key version %d: %w", pos, version, err))
		}
	} else if len(vote.Extension) > 0 {
		return s.fail(SignerErrorRequest, errors.New("sign vote: unexpected vote extension: extensions are only allowed in non-nil precommits"))
	}

	if same {
		switch {
		case bytes.Equal(signBytes, s.state.SignBytes):
		case onlyTimestampDiffers(s.state.SignBytes, signBytes, &cmtproto.CanonicalVote{}, &cmtproto.CanonicalVote{}):
			ts, err := voteTimestamp(s.state.SignBytes)
			if err != nil {
				return s.fail(SignerErrorState, err)
			}
			vote.Timestamp = ts
		default:
			vote.ExtensionSignature = extSig // as FilePV, even on refusal
			return s.refuse(RefusalConflict, "conflicting data: already signed other data at %s", pos)
		}
		vote.Signature = s.state.Signature
		vote.ExtensionSignature = extSig
		return nil
	}
	sig, err := s.signNew(ctx, pos, version, signBytes)
	if err != nil {
		return err
	}
	vote.Signature = sig
	vote.ExtensionSignature = extSig
	return nil
}

// SignProposal signs proposal as privval.FilePV does: a repeat of the last
// signed proposal gets the stored signature (and the stored timestamp if
// only the timestamp differs).
func (s *Signer) SignProposal(chainID string, proposal *cmtproto.Proposal) error {
	start := time.Now()
	defer func() { s.metrics.SignDuration.Observe(time.Since(start).Seconds()) }()
	return s.retry(start, func() error { return s.signProposal(chainID, proposal) })
}

func (s *Signer) signProposal(chainID string, proposal *cmtproto.Proposal) error {
	if proposal == nil {
		return s.fail(SignerErrorRequest, errors.New("sign proposal: no proposal"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pos := hrs{Height: proposal.Height, Round: proposal.Round, Step: stepPropose}
	same, err := s.checkLocal(pos)
	if err != nil {
		return err
	}
	signBytes := cmttypes.ProposalSignBytes(chainID, proposal)
	if same {
		switch {
		case bytes.Equal(signBytes, s.state.SignBytes):
		case onlyTimestampDiffers(s.state.SignBytes, signBytes, &cmtproto.CanonicalProposal{}, &cmtproto.CanonicalProposal{}):
			ts, err := proposalTimestamp(s.state.SignBytes)
			if err != nil {
				return s.fail(SignerErrorState, err)
			}
			proposal.Timestamp = ts
		default:
			return s.refuse(RefusalConflict, "conflicting data: already signed another proposal at %s", pos)
		}
		proposal.Signature = s.state.Signature
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	version, err := s.versionFor(ctx, pos, false)
	if err != nil {
		return err
	}
	sig, err := s.signNew(ctx, pos, version, signBytes)
	if err != nil {
		return err
	}
	proposal.Signature = sig
	return nil
}

// String names the signer for CometBFT's logs.
func (s *Signer) String() string { return "consort signer " + s.cfg.KeyName }

// checkLocal compares pos with the local last-sign state as FilePV's
// CheckHRS does: a position before it is refused; the same position means
// the request must repeat what was signed (same is true).
func (s *Signer) checkLocal(pos hrs) (same bool, err error) {
	if pos.Height < 1 || pos.Round < 0 {
		return false, s.fail(SignerErrorRequest, fmt.Errorf("sign: bad position %s", pos))
	}
	switch c := pos.compare(s.state.hrs); {
	case c < 0:
		return false, s.refuse(RefusalRegression, "%s is before the last signed %s", pos, s.state.hrs)
	case c == 0:
		return true, nil
	}
	return false, nil
}

// versionFor returns the key version that signs at pos: for a repeat of
// the last signature, the version that made it.
func (s *Signer) versionFor(ctx context.Context, pos hrs, same bool) (int, error) {
	if same && s.state.KeyVersion > 0 {
		return s.state.KeyVersion, nil
	}
	if err := s.refreshSchedule(ctx, pos.Height); err != nil {
		return 0, s.fail(SignerErrorStore, err)
	}
	v := s.schedule.VersionAt(pos.Height)
	if v < 1 {
		return 0, s.fail(SignerErrorSchedule, fmt.Errorf("no key version is scheduled for height %d", pos.Height))
	}
	return v, nil
}

// signNew signs a position never signed here: claim it in the shared
// watermark, sign, record it in the state file, and only then return the
// signature.
func (s *Signer) signNew(ctx context.Context, pos hrs, version int, signBytes []byte) ([]byte, error) {
	if s.cfg.Store != nil {
		if err := claimWatermark(ctx, s.cfg.Store, s.cfg.KeyName, pos, signBytes); err != nil {
			var refusal *watermarkRefusal
			if errors.As(err, &refusal) {
				return nil, s.refuse(refusal.reason, "%v", err)
			}
			return nil, s.fail(SignerErrorStore, err)
		}
	}
	sig, err := s.keys.Sign(ctx, version, signBytes)
	if err != nil {
		return nil, s.fail(SignerErrorKey, fmt.Errorf("sign %s with key version %d: %w", pos, version, err))
	}
	next := signState{hrs: pos, SignBytes: signBytes, Signature: sig, KeyVersion: version}
	if err := saveSignState(s.cfg.StateFile, next); err != nil {
		return nil, s.fail(SignerErrorState, err)
	}
	s.state = next
	s.metrics.LastSignedHeight.Set(float64(pos.Height))
	s.metrics.KeyVersion.Set(float64(version))
	return sig, nil
}

// refreshSchedule reads the key schedule again if height is past the
// heights it was read for; without a store the initial version signs all.
func (s *Signer) refreshSchedule(ctx context.Context, height int64) error {
	if s.cfg.Store == nil || height <= s.scheduleHeight {
		return nil
	}
	sched, _, err := LoadKeySchedule(ctx, s.cfg.Store, s.cfg.KeyName, s.cfg.InitialVersion)
	if err != nil {
		return err
	}
	if old := s.schedule.VersionAt(height); old != sched.VersionAt(height) && s.scheduleHeight > 0 {
		s.logger.Info().Int64("height", height).Int("from_version", old).Int("to_version", sched.VersionAt(height)).Msg("key version changes by schedule")
	}
	s.schedule, s.scheduleHeight = sched, height
	return nil
}

// pubKey returns the public key of version, asking the provider once.
func (s *Signer) pubKey(ctx context.Context, version int) (crypto.PubKey, error) {
	if pub, ok := s.pubKeys[version]; ok {
		return pub, nil
	}
	pub, err := s.keys.PubKey(ctx, version)
	if err != nil {
		return nil, fmt.Errorf("public key of version %d: %w", version, err)
	}
	s.pubKeys[version] = pub
	return pub, nil
}

// SetRetryFor replaces SignerConfig.RetryFor.
func (s *Signer) SetRetryFor(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.RetryFor = d
}

// retry runs one signing attempt, and again while it fails for want of the
// key provider, the store or the state file, until RetryFor has passed
// since start. Refusals and bad requests are never retried.
func (s *Signer) retry(start time.Time, attempt func() error) error {
	wait := retryFirstWait
	for {
		err := attempt()
		var u *unavailableError
		if err == nil || !errors.As(err, &u) {
			return err
		}
		s.mu.Lock()
		retryFor := s.cfg.RetryFor
		s.mu.Unlock()
		if time.Since(start)+wait > retryFor {
			return u.err
		}
		time.Sleep(wait)
		wait = min(2*wait, retryMaxWait)
	}
}

// unavailableError is a failure of the key provider, the store or the
// state file: worth another attempt later, unlike a refusal.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

// fail counts and logs an error that left no signature, and returns it.
// Failures of the key provider, store or state file come back as an
// *unavailableError.
func (s *Signer) fail(reason string, err error) error {
	s.metrics.Errors.WithLabelValues(reason).Inc()
	s.logger.Error().Err(err).Str("reason", reason).Msg("signing failed")
	switch reason {
	case SignerErrorKey, SignerErrorStore, SignerErrorState:
		return &unavailableError{err}
	}
	return err
}

// refuse counts and logs a possible double sign refused.
func (s *Signer) refuse(reason, format string, args ...any) error {
	err := fmt.Errorf("%w: %s", ErrDoubleSignRefused, fmt.Sprintf(format, args...))
	s.metrics.Refusals.WithLabelValues(reason).Inc()
	s.logger.Warn().Err(err).Str("reason", reason).Msg("signing refused")
	return err
}

// onlyTimestampDiffers reports whether two canonical sign bytes decode
// into messages equal but for their timestamp; bytes that do not decode
// differ.
func onlyTimestampDiffers[T interface {
	proto.Message
	*cmtproto.CanonicalVote | *cmtproto.CanonicalProposal
}](last, next []byte, a, b T) bool {
	if err := protoio.UnmarshalDelimited(last, a); err != nil {
		return false
	}
	if err := protoio.UnmarshalDelimited(next, b); err != nil {
		return false
	}
	switch a := any(a).(type) {
	case *cmtproto.CanonicalVote:
		b := any(b).(*cmtproto.CanonicalVote)
		a.Timestamp, b.Timestamp = time.Time{}, time.Time{}
	case *cmtproto.CanonicalProposal:
		b := any(b).(*cmtproto.CanonicalProposal)
		a.Timestamp, b.Timestamp = time.Time{}, time.Time{}
	}
	return proto.Equal(a, b)
}

func voteTimestamp(signBytes []byte) (time.Time, error) {
	var v cmtproto.CanonicalVote
	if err := protoio.UnmarshalDelimited(signBytes, &v); err != nil {
		return time.Time{}, fmt.Errorf("decode stored vote: %w", err)
	}
	return v.Timestamp, nil
}

func proposalTimestamp(signBytes []byte) (time.Time, error) {
	var p cmtproto.CanonicalProposal
	if err := protoio.UnmarshalDelimited(signBytes, &p); err != nil {
		return time.Time{}, fmt.Errorf("decode stored proposal: %w", err)
	}
	return p.Timestamp, nil
}
