package io.reelay.sim;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The simulated backend's state and its business rules, independent of HTTP: accounts and tokens,
 * sessions and drafts, credits, render jobs, generated media, counters. Thread-safe (concurrent maps;
 * per-account and per-session updates are atomic). Reset swaps everything out at once.
 */
final class NemoBackend {

  /** A clip the agent generated: served at /files/media/{id}.mp4 and listed in generated_media. */
  record Media(String id, long durationMs, String title, String prompt) {}

  /** Everything a reset forgets. */
  private static final class World {
    final ConcurrentHashMap<String, Account> accountsByToken = new ConcurrentHashMap<>();
    final ConcurrentHashMap<String, Account> accountsByClient = new ConcurrentHashMap<>();
    final ConcurrentHashMap<String, BackendSession> sessions = new ConcurrentHashMap<>();
    final ConcurrentHashMap<String, RenderJob> renders = new ConcurrentHashMap<>();
    final ConcurrentHashMap<String, Media> media = new ConcurrentHashMap<>();
    final ConcurrentHashMap<String, List<Media>> mediaBySession = new ConcurrentHashMap<>();
    /** New-token instants per caller address, for the per-address cap (sliding window). */
    final ConcurrentHashMap<String, ArrayDeque<Instant>> tokensByAddress = new ConcurrentHashMap<>();
    /** Session ids per user in creation order, for max-sessions-per-user. */
    final ConcurrentHashMap<String, ConcurrentLinkedDeque<String>> sessionsByUser = new ConcurrentHashMap<>();
    final SimStats stats = new SimStats();
  }

  final SimSettings settings;
  final Ids ids;
  final FaultDice dice;
  final Mp4Renderer renderer;
  private final Clock clock;
  private final Delays delays;
  private final SplittableRandom latencyRandom;
  private volatile World world = new World();
  private volatile String publicBaseUrl = "";

  NemoBackend(SimSettings settings, Mp4Renderer renderer, Clock clock, Delays delays) {
    this.delays = delays;
    this.settings = settings;
    this.ids = new Ids(settings.seed());
    this.dice = new FaultDice(settings.faults());
    this.renderer = renderer;
    this.clock = clock;
    // its own generator: latency draws must not shift the fault sequence of a seed
    this.latencyRandom = new SplittableRandom(settings.seed() ^ 0x5DEECE66DL);
  }

  /** What holds answers back (latency, slow responses). */
  Delays delays() {
    return delays;
  }

  /** How long this call to {@code endpoint} takes before it is answered (scaled, uniform in the configured range). */
  Duration latency(String endpoint) {
    SimSettings.Latency.Range r = settings.latency().of(endpoint);
    long lo = r.min().toNanos();
    long hi = r.max().toNanos();
    if (hi <= 0) return Duration.ZERO;
    long pick;
    synchronized (latencyRandom) {
      pick = hi == lo ? lo : lo + latencyRandom.nextLong(hi - lo + 1);
    }
    return Duration.ofNanos((long) (pick * settings.timeScale()));
  }

  /** Base of the URLs handed out (media, render output); known once the server is bound. */
  String publicBaseUrl() {
    return publicBaseUrl;
  }

  void publicBaseUrl(String url) {
    this.publicBaseUrl = url;
  }

  SimStats stats() {
    return world.stats;
  }

  long nowMillis() {
    return clock.millis();
  }

  /** Forgets all accounts, sessions, renders and counters (the MP4 cache on disk stays). */
  void reset() {
    world = new World();
    dice.replace(dice.current()); // restart the fault sequence, so a reset run is reproducible
  }

  // ---- E1 / auth ----------------------------------------------------------------------------------

  /** One token per client id while it is valid; a new one once it expired or was revoked. */
  Account anonymousToken(String clientId) {
    return anonymousToken(clientId, "unknown");
  }

  /**
   * As above; a token that has to be newly issued counts against {@code address}'s cap
   * ({@code per-address-token-cap} per {@code per-address-window}), HTTP 429 beyond it.
   */
  Account anonymousToken(String clientId, String address) {
    World w = world;
    Instant now = clock.instant();
    return w.accountsByClient.compute(clientId, (id, existing) -> {
      if (existing != null && existing.usable(now)) return existing;
      admitNewToken(w, address, now);
      Account fresh = new Account(ids.token(), existing != null ? existing.userId : ids.userId(), id,
          now.plus(settings.tokenTtl()), settings.creditsPerToken());
      w.accountsByToken.put(fresh.token, fresh);
      w.stats.tokensIssued.increment();
      return fresh;
    });
  }

  private void admitNewToken(World w, String address, Instant now) {
    int cap = settings.limits().perAddressTokenCap();
    if (cap <= 0) return;
    ArrayDeque<Instant> issued = w.tokensByAddress.computeIfAbsent(address, a -> new ArrayDeque<>());
    synchronized (issued) {
      Instant windowStart = now.minus(settings.limits().perAddressWindow());
      while (!issued.isEmpty() && !issued.peekFirst().isAfter(windowStart)) issued.pollFirst();
      if (issued.size() >= cap) {
        w.stats.tokensRefused.increment();
        long wait = Duration.between(now, issued.peekFirst().plus(settings.limits().perAddressWindow())).toSeconds();
        throw SimError.rateLimited("too many anonymous tokens from this address: " + cap + " per "
            + settings.limits().perAddressWindow().toHours() + " h", wait);
      }
      issued.addLast(now);
    }
  }

  /** The account behind an {@code Authorization: Bearer …} header, or 1001. */
  Account authenticate(Optional<String> authorization) {
    String header = authorization.map(String::strip).orElse("");
    if (header.isEmpty()) throw SimError.tokenInvalid("missing authentication token");
    if (!header.regionMatches(true, 0, "Bearer ", 0, 7)) throw SimError.tokenInvalid("invalid authentication token");
    Account account = world.accountsByToken.get(header.substring(7).strip());
    if (account == null) throw SimError.tokenInvalid("invalid authentication token");
    if (!account.usable(clock.instant())) {
      throw SimError.tokenInvalid(clock.instant().isBefore(account.expiresAt) ? "token has been revoked" : "token has expired");
    }
    return account;
  }

  String claimToken() {
    return ids.shortId("clm_");
  }

  // ---- E2 / E7 sessions ---------------------------------------------------------------------------

  BackendSession createSession(Account owner, String taskName, String language) {
    World w = world;
    BackendSession s;
    do {
      s = new BackendSession(ids.sessionId(), ids.taskId(), taskName, language, owner.userId);
    } while (w.sessions.putIfAbsent(s.sessionId, s) != null);
    s.touch(clock.millis());
    w.stats.sessionsCreated.increment();
    int cap = settings.limits().maxSessionsPerUser();
    if (cap > 0) {
      var mine = w.sessionsByUser.computeIfAbsent(owner.userId, u -> new ConcurrentLinkedDeque<>());
      mine.addLast(s.sessionId);
      while (mine.size() > cap) {
        String oldest = mine.pollFirst();
        if (oldest != null && w.sessions.remove(oldest) != null) w.stats.sessionsEvicted.increment();
      }
    }
    return s;
  }

  /** The caller's session, or 1002 (also for someone else's session: no existence leak). */
  BackendSession session(Account caller, String sessionId) {
    World w = world;
    BackendSession s = sessionId == null ? null : w.sessions.get(sessionId);
    if (s == null || !s.ownerUserId.equals(caller.userId)) throw SimError.sessionNotFound(String.valueOf(sessionId));
    long now = clock.millis();
    Duration idle = settings.limits().sessionIdleTimeout();
    if (!idle.isZero() && now - s.lastUsedMillis() > idle.toMillis()) {
      if (w.sessions.remove(sessionId, s)) w.stats.sessionsExpired.increment();
      throw SimError.sessionExpired(sessionId);
    }
    s.touch(now);
    return s;
  }

  void forgetSession(String sessionId) {
    world.sessions.remove(sessionId);
  }

  void addMedia(BackendSession session, Media m) {
    World w = world;
    w.media.put(m.id(), m);
    w.mediaBySession.computeIfAbsent(session.sessionId, k -> new CopyOnWriteArrayList<>()).add(m);
  }

  List<Media> media(BackendSession session) {
    return world.mediaBySession.getOrDefault(session.sessionId, List.of());
  }

  Optional<Media> media(String mediaId) {
    return Optional.ofNullable(world.media.get(mediaId));
  }

  // ---- E8-E11 renders -----------------------------------------------------------------------------

  record Submitted(RenderJob job, boolean duplicate) {}

  /**
   * Starts a render of a draft; an id that already exists returns that job (the client picks ids, and a
   * repeat after a failover must not start a second job).
   */
  Submitted submitRender(Account caller, String id, String sessionId, long durationMs, String title) {
    World w = world;
    w.stats.renderSubmits.increment();
    long now = clock.millis();
    boolean[] created = {false};
    RenderJob job = w.renders.computeIfAbsent(id, k -> {
      created[0] = true;
      long renderMillis = settings.scaled(Duration.ofMillis(
          ids.between(settings.timing().renderMin(), settings.timing().renderMax()))).toMillis();
      return new RenderJob(id, sessionId, caller.userId, now, renderMillis, durationMs, title,
          renderer.render(durationMs, title), dice.roll(dice.current().renderFailed()));
    });
    if (!created[0]) {
      w.stats.duplicateRenderSubmits.increment();
      if (settings.duplicateRenderId() == SimSettings.DuplicateRenderId.ERROR) throw SimError.duplicateRenderId(id);
    }
    return new Submitted(job, !created[0]);
  }

  /** The caller's render job, or a 404-style error. */
  RenderJob render(Account caller, String id) {
    RenderJob job = world.renders.get(id);
    if (job == null || !job.ownerUserId.equals(caller.userId)) throw SimError.notFound("render job not found: " + id);
    return job;
  }

  /** Every render job since the last reset (for {@code GET /_sim/renders}). */
  Collection<RenderJob> renders() {
    return world.renders.values();
  }

  /** A render for the unauthenticated /files URL: knowing the id is the capability, like a CDN URL. */
  Optional<RenderJob> renderById(String id) {
    return Optional.ofNullable(world.renders.get(id));
  }

  RenderJob.View view(RenderJob job) {
    RenderJob.View v = job.view(clock.millis());
    if (v.status() == RenderJob.Status.COMPLETED && job.firstSeenCompleted()) stats().rendersCompleted.increment();
    return v;
  }

  Map<String, Object> faultsSnapshot() {
    return dice.current().asMap();
  }
}
