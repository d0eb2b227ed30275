package io.reelay.status;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.reelay.protocol.Json;
import io.reelay.protocol.Request;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code Idempotency-Key}s of {@code POST /v1/requests}, remembered per tenant for {@code
 * idempotency-retention}, at most {@code idempotency-max-keys} of them, in this instance's memory.
 *
 * <p>The first submission with a key publishes its request; a repeat with the same key and the
 * same body (compared as JSON, whatever the field order) gets that request's id back and publishes
 * nothing, or, while the first publish is still waiting for Kafka, waits for the same outcome. A
 * publish that timed out may still land, so its request (same {@code requestId}) is kept and the
 * next repeat publishes it again; a request runs once per {@code requestId}. A publish refused for
 * any other reason frees the key. The same key with another body is a conflict.
 */
final class IdempotencyKeys {

  private static final Logger log = LoggerFactory.getLogger(IdempotencyKeys.class);

  static final int MAX_KEY_CHARS = 255;

  /**
   * What a submission with a key gets.
   *
   * @param requestId the request the key stands for (null on a conflict)
   * @param published completes once Kafka acknowledged it
   * @param replayed the key was known: nothing new was submitted
   */
  record Claim(String requestId, CompletionStage<Void> published, boolean replayed) {
    boolean conflict() {
      return requestId == null;
    }
  }

  private record Slot(String tenant, String key) {}

  private static final class Entry {
    final byte[] fingerprint;
    final String requestId;
    final long createdMillis;
    Request unconfirmed; // published again by a repeat while Kafka has not acknowledged it; null once it has
    CompletableFuture<Void> publishing; // while a publish runs

    Entry(byte[] fingerprint, Request request, long createdMillis) {
      this.fingerprint = fingerprint;
      this.requestId = request.requestId();
      this.unconfirmed = request;
      this.createdMillis = createdMillis;
    }
  }

  private final long retentionMillis;
  private final int maxKeys;
  private final LongSupplier clockMillis;
  private final LinkedHashMap<Slot, Entry> entries = new LinkedHashMap<>(); // oldest first
  private long forgottenEarly;

  IdempotencyKeys(Duration retention, int maxKeys, LongSupplier clockMillis) {
    this.retentionMillis = retention.toMillis();
    this.maxKeys = maxKeys;
    this.clockMillis = clockMillis;
  }

  IdempotencyKeys(StatusSettings settings) {
    this(settings.idempotencyRetention(), settings.idempotencyMaxKeys(), () -> System.nanoTime() / 1_000_000);
  }

  /**
   * Why {@code key} is not a usable Idempotency-Key, or null: 1-255 characters, none of them a
   * control character or whitespace. (pekko-http itself answers 400 to most control characters in
   * a header, and hands a tab over as a space.)
   */
  static String problem(String key) {
    if (key.isEmpty()) {
      return "Idempotency-Key must not be empty";
    }
    if (key.length() > MAX_KEY_CHARS) {
      return "Idempotency-Key is longer than " + MAX_KEY_CHARS + " characters";
    }
    for (int i = 0; i < key.length(); i++) {
      char c = key.charAt(i);
      if (Character.isISOControl(c)) {
        return "Idempotency-Key must not contain control characters (found one at index " + i + ")";
      }
      if (c == ' ') {
        // pekko-http reads a tab inside a header value as a space: refuse both, so no tab passes as a space
        return "Idempotency-Key must not contain spaces or tabs (found one at index " + i + ")";
      }
    }
    return null;
  }

  /**
   * Claims {@code key} of {@code tenant} for {@code fresh}, or finds what it already stands for.
   *
   * @param fingerprint of the submitted body ({@link #fingerprint})
   * @param publish puts a request on Kafka (called at most once per call, outside any lock)
   */
  Claim claim(String tenant, String key, byte[] fingerprint, Request fresh, Function<Request, CompletionStage<Void>> publish) {
    Slot slot = new Slot(tenant, key);
    Entry entry;
    boolean replayed;
    Request toPublish;
    CompletableFuture<Void> promise = new CompletableFuture<>();
    synchronized (this) {
      expire();
      entry = entries.get(slot);
      replayed = entry != null;
      if (entry == null) {
        entry = new Entry(fingerprint, fresh, clockMillis.getAsLong());
        entries.put(slot, entry);
        forgetOverflow();
      } else if (!Arrays.equals(entry.fingerprint, fingerprint)) {
        return new Claim(null, CompletableFuture.completedFuture(null), true);
      } else if (entry.unconfirmed == null) {
        return new Claim(entry.requestId, CompletableFuture.completedFuture(null), true);
      } else if (entry.publishing != null) {
        return new Claim(entry.requestId, entry.publishing, true);
      }
      toPublish = entry.unconfirmed;
      entry.publishing = promise;
    }
    CompletionStage<Void> published;
    try {
      published = publish.apply(toPublish);
    } catch (RuntimeException e) {
      published = CompletableFuture.failedFuture(e);
    }
    Entry e = entry;
    published.whenComplete((v, error) -> settle(slot, e, error, promise));
    return new Claim(entry.requestId, promise, replayed);
  }

  /** Keys remembered now. */
  synchronized int size() {
    return entries.size();
  }

  private void settle(Slot slot, Entry entry, Throwable error, CompletableFuture<Void> promise) {
    synchronized (this) {
      entry.publishing = null;
      if (error == null) {
        entry.unconfirmed = null; // only the id is kept from now on
      } else if (!ApiErrors.isTimeout(error) && entries.get(slot) == entry) {
        entries.remove(slot); // refused: nothing landed, the key is free again
      }
    }
    if (error == null) {
      promise.complete(null);
    } else {
      promise.completeExceptionally(error);
    }
  }

  private void expire() {
    long now = clockMillis.getAsLong();
    Iterator<Entry> it = entries.values().iterator();
    while (it.hasNext()) {
      if (now - it.next().createdMillis < retentionMillis) {
        return; // the rest are younger
      }
      it.remove();
    }
  }

  private void forgetOverflow() {
    Iterator<Entry> it = entries.values().iterator();
    while (entries.size() > maxKeys && it.hasNext()) {
      it.next();
      it.remove();
      if (forgottenEarly++ % 1000 == 0) {
        log.warn("more than {} Idempotency-Keys within their retention: forgetting the oldest early "
            + "(raise reelay.status.idempotency-max-keys)", maxKeys);
      }
    }
  }

  /** SHA-256 of {@code body} as canonical JSON (object fields sorted), so a re-serialized retry still matches. */
  static byte[] fingerprint(JsonNode body) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(Json.bytes(sorted(body)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 unavailable", e);
    }
  }

  private static JsonNode sorted(JsonNode n) {
    if (n.isObject()) {
      List<String> names = new ArrayList<>();
      n.fieldNames().forEachRemaining(names::add);
      Collections.sort(names);
      ObjectNode out = Json.mapper().createObjectNode();
      for (String name : names) {
        out.set(name, sorted(n.get(name)));
      }
      return out;
    }
    if (n.isArray()) {
      ArrayNode out = Json.mapper().createArrayNode();
      n.forEach(e -> out.add(sorted(e)));
      return out;
    }
    return n;
  }
}
