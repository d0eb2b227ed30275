package io.reelay.status;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.HttpChallenge;
import org.apache.pekko.http.javadsl.model.headers.WWWAuthenticate;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * Bearer API keys and the tenants they belong to. Keys are compared in constant time and never
 * appear in a log or an answer.
 */
final class ApiKeys extends AllDirectives {

  private record Key(byte[] secret, String tenant) {}

  private final List<Key> keys = new ArrayList<>();

  ApiKeys(Map<String, String> keyToTenant) {
    keyToTenant.forEach((k, t) -> keys.add(new Key(k.getBytes(StandardCharsets.UTF_8), t)));
  }

  boolean isEmpty() {
    return keys.isEmpty();
  }

  /** The tenant of an {@code Authorization} header value, if it carries a known bearer key. */
  Optional<String> tenantOf(String authorization) {
    if (authorization == null) {
      return Optional.empty();
    }
    String h = authorization.trim();
    if (h.length() < 7 || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return Optional.empty();
    }
    byte[] presented = h.substring(7).trim().getBytes(StandardCharsets.UTF_8);
    String tenant = null;
    for (Key k : keys) {
      // look at every key so the answer time doesn't tell which one almost matched
      if (MessageDigest.isEqual(k.secret(), presented) && tenant == null) {
        tenant = k.tenant();
      }
    }
    return Optional.ofNullable(tenant);
  }

  /** Runs {@code inner} with the caller's tenant, or answers 401. */
  Route authenticated(Function<String, Route> inner) {
    return optionalHeaderValueByName(
        "Authorization",
        header -> {
          Optional<String> tenant = header.flatMap(this::tenantOf);
          if (tenant.isPresent()) {
            return inner.apply(tenant.get());
          }
          String message =
              header.isPresent()
                  ? "the API key is not valid"
                  : "an API key is required: send 'Authorization: Bearer <key>'";
          return complete(
              ApiErrors.response(StatusCodes.UNAUTHORIZED, "UNAUTHORIZED", message)
                  .addHeader(WWWAuthenticate.create(HttpChallenge.create("Bearer", "reelay"))));
        });
  }
}
