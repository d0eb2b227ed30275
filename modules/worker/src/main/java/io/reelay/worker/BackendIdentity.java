package io.reelay.worker;

import io.reelay.nemo.Answers.AnonymousToken;
import io.reelay.nemo.Answers.BackendSession;
import io.reelay.nemo.FailurePolicy.Remedy;
import io.reelay.nemo.FailurePolicy.RetryPolicy;
import io.reelay.nemo.Token;
import io.reelay.protocol.Action;
import io.reelay.protocol.LanguageDetector;
import io.reelay.protocol.Phase;
import io.reelay.protocol.Request;
import io.reelay.protocol.SessionSnapshot;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * Who a session is on the backend, kept across its requests: a client id stable per (tenant,
 * session), the token (anonymous, or {@code NEMO_TOKEN}), the user, the backend session and its
 * language. It says what a request needs before it can run and which repair a failure calls for;
 * the session makes the calls. Snapshots carry it with the token encrypted. Confined to its session.
 */
final class BackendIdentity {

  /** What a request needs before its own calls. */
  enum Need {
    TOKEN,
    SESSION,
    NOTHING
  }

  /** A failure repaired by renewing part of the identity: say {@code note} in {@code phase}, then carry on after {@code in}. */
  record Repair(Phase phase, String note, Duration in) {}

  private final String clientId;
  private final String tenant;
  private final String sessionKey;
  private final StateCipher cipher;
  private final Duration refreshBefore;
  private final boolean fixedToken;
  private Token token;
  private Instant tokenExpiresAt;
  private String userId;
  private String backendSessionId;
  private String taskId;
  private String language;

  BackendIdentity(String clientIdPrefix, String tenant, String sessionKey, StateCipher cipher, Optional<Token> fixed,
      Duration refreshBefore) {
    this.clientId = clientIdFor(clientIdPrefix, tenant, sessionKey);
    this.tenant = tenant == null ? Request.DEFAULT_TENANT : tenant; // as a request without one; binds the token to it
    this.sessionKey = sessionKey;
    this.cipher = cipher;
    this.refreshBefore = refreshBefore;
    this.fixedToken = fixed.isPresent();
    this.token = fixed.orElse(null);
  }

  /** A stable client id per (tenant, session): the backend gives the same client id its token back. */
  static String clientIdFor(String prefix, String tenant, String sessionKey) {
    UUID u = UUID.nameUUIDFromBytes((tenant + "\u0000" + sessionKey).getBytes(StandardCharsets.UTF_8));
    return prefix + "-" + u;
  }

  /**
   * The identity a snapshot carries (a new owner, or a restart after a crash). False if its token
   * cannot be decrypted with this worker's state key for this tenant's session (a rotated key, a
   * damaged or copied record, or one written by a worker before tokens were bound to their tenant):
   * the session signs in again, and the client id gets the same account back.
   */
  boolean restore(SessionSnapshot s) {
    userId = s.userId();
    backendSessionId = s.backendSessionId();
    taskId = s.taskId();
    language = s.language();
    if (token == null && s.encryptedToken() != null) {
      try {
        token = Token.of(cipher.decrypt(s.encryptedToken(), tenant, sessionKey));
        tokenExpiresAt = s.tokenExpiresAt();
      } catch (RuntimeException e) {
        return false;
      }
    }
    return true;
  }

  /** What the snapshot says of it. */
  SessionMemory.Identity forSnapshot() {
    return new SessionMemory.Identity(clientId, userId, backendSessionId, taskId, language,
        token == null ? null : cipher.encrypt(token.reveal(), tenant, sessionKey), tokenExpiresAt);
  }

  /**
   * What a request of {@code action} needs first. A token this request just got ({@code
   * signedInNow}) is used even if it expires "soon": the backend's lifetime may be shorter than
   * token-refresh-before, and asking again would only get the same one back.
   */
  Need need(Action action, boolean signedInNow, Instant now) {
    boolean expiresSoon = tokenExpiresAt != null && now.plus(refreshBefore).isAfter(tokenExpiresAt);
    if (token == null || (expiresSoon && !signedInNow)) {
      return Need.TOKEN;
    }
    return backendSessionId == null && action != Action.CREDITS ? Need.SESSION : Need.NOTHING;
  }

  void signedIn(AnonymousToken t) {
    token = t.token();
    tokenExpiresAt = t.expiresAt();
    userId = t.userId();
  }

  /** The language a new backend session is opened in: the session's, or that of its first text unless the request names one. */
  String languageFor(Request r) {
    if (language == null) {
      language = r.language() != null ? r.language() : LanguageDetector.detect(r.text());
    }
    return language;
  }

  void opened(BackendSession s) {
    backendSessionId = s.sessionId();
    taskId = s.taskId();
  }

  /**
   * The repair {@code remedy} calls for, or empty: nothing to repair, the request fails. A fixed
   * token is never renewed. {@code attempts} counts this request's repairs per remedy (the one
   * returned is counted): the first goes at once, each further one after {@code retry}'s repair
   * wait, for as long as the request's deadline allows (the backend did not take the call).
   */
  Optional<Repair> repair(Remedy remedy, Map<Remedy, Integer> attempts, RetryPolicy retry, double random) {
    boolean renew = remedy == Remedy.RENEW_TOKEN && !fixedToken;
    if (!renew && remedy != Remedy.NEW_SESSION) {
      return Optional.empty();
    }
    int attempt = attempts.merge(remedy, 1, Integer::sum);
    Duration wait = retry.repairWait(attempt, random);
    String again = attempt == 1 ? "" : " (repair " + attempt + ", in " + AgentTurn.seconds(wait) + ")";
    if (renew) {
      token = null;
      return Optional.of(new Repair(Phase.AUTHENTICATING, "The token expired; getting a new one" + again, wait));
    }
    backendSessionId = null;
    return Optional.of(new Repair(Phase.SESSION,
        "The backend session was lost; starting a new one (the agent's earlier history is gone)" + again, wait));
  }

  String clientId() {
    return clientId;
  }

  Token token() {
    return token;
  }

  String userId() {
    return userId;
  }

  String backendSessionId() {
    return backendSessionId;
  }
}
