package io.reelay.status;

import io.reelay.protocol.Topics;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.regex.Pattern;

/**
 * The keys of the status stores and the listing cursor. The requests store is keyed like the events
 * topic ({@link Topics#requestKey}), so interactive queries find a request's owner from its key.
 * The listing store orders each tenant's (and each session's) requests most recently updated first:
 *
 * <ul>
 *   <li>{@code t<len><tenant><position>}: a tenant's requests;
 *   <li>{@code s<len><tenant><len><session><position>}: a session's;
 *   <li>{@code x<updatedAt><requestKey>}: every request by age, for the retention purge.
 * </ul>
 *
 * A {@code position} is 16 hex digits of {@code Long.MAX_VALUE - updatedAt millis}, then the
 * requestId: byte order is newest first, ties by requestId. Lengths are 4 hex digits, so no tenant
 * or session name can run into the next field, whatever characters it holds.
 */
final class Listing {

  private Listing() {}

  private static final Pattern POSITION = Pattern.compile("[0-9a-f]{16}[A-Za-z0-9._:@\\-]{1,128}");

  static String requestKey(String tenant, String requestId) {
    return Topics.requestKey(tenant, requestId);
  }

  /** Where a request updated at {@code updatedAt} sorts among its tenant's. */
  static String position(Instant updatedAt, String requestId) {
    return hex16(Long.MAX_VALUE - Math.max(0, updatedAt.toEpochMilli())) + requestId;
  }

  static String tenantPrefix(String tenant) {
    return "t" + field(tenant);
  }

  static String sessionPrefix(String tenant, String session) {
    return "s" + field(tenant) + field(session);
  }

  /** The prefix of the listing asked for: a session's when {@code session} is not null, else the tenant's. */
  static String prefix(String tenant, String session) {
    return session == null ? tenantPrefix(tenant) : sessionPrefix(tenant, session);
  }

  static final String EXPIRY_PREFIX = "x";

  /** Above every expiry key, below every other key after them. */
  static final String EXPIRY_END = "y";

  static String expiryKey(Instant updatedAt, String requestKey) {
    return EXPIRY_PREFIX + hex16(Math.max(0, updatedAt.toEpochMilli())) + requestKey;
  }

  /** The updatedAt millis of an expiry key. */
  static long expiryMillis(String expiryKey) {
    return Long.parseUnsignedLong(expiryKey.substring(1, 17), 16);
  }

  /** The request key of an expiry key. */
  static String expiryRequestKey(String expiryKey) {
    return expiryKey.substring(17);
  }

  /** The first key after {@code key} in byte order. */
  static String after(String key) {
    return key + '\u0000';
  }

  /** The opaque cursor of the API ({@code nextAfter}, passed back as {@code ?after=}) for a position. */
  static String cursor(String position) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(position.getBytes(StandardCharsets.UTF_8));
  }

  /** The position of a cursor from the API, or a 400 saying what to pass. */
  static String parseCursor(String cursor) {
    String position;
    try {
      position = new String(Base64.getUrlDecoder().decode(cursor.trim()), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      position = "";
    }
    if (!isPosition(position)) {
      throw ApiErrors.badRequest("after must be the nextAfter of a previous page of this listing");
    }
    return position;
  }

  static boolean isPosition(String s) {
    return s != null && POSITION.matcher(s).matches();
  }

  private static String field(String s) {
    if (s.length() > 0xffff) {
      throw new IllegalArgumentException("a tenant or session name is at most 65535 characters");
    }
    return String.format("%04x", s.length()) + s;
  }

  private static String hex16(long v) {
    String h = Long.toHexString(v);
    return "0".repeat(16 - h.length()) + h;
  }
}
