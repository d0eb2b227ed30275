package io.reelay.status;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.reelay.protocol.Json;
import java.util.List;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;

/** {@code /v1/sessions/{sessionKey}}: the caller's requests of one session, latest first. */
final class SessionRoutes extends AllDirectives {

  private final StatusView view;
  private final StatusSettings settings;

  SessionRoutes(StatusView view, StatusSettings settings) {
    this.view = view;
    this.settings = settings;
  }

  /** The routes under {@code /v1/sessions}, for a caller of {@code tenant}. */
  Route route(String tenant) {
    return path(
        PathMatchers.segment(),
        sessionKey ->
            get(
                () ->
                    parameterOptional(
                        "limit",
                        limit -> {
                          List<StatusView.RequestStatus> hits =
                              view.list(tenant, sessionKey, null, RequestRoutes.limit(limit, settings));
                          if (hits.isEmpty()) {
                            return complete(ApiErrors.notFound("no session " + sessionKey));
                          }
                          ObjectNode out = Json.mapper().createObjectNode();
                          out.put("sessionKey", sessionKey);
                          out.set("requests", RequestRoutes.statusArray(hits));
                          out.put("count", hits.size());
                          return complete(RequestRoutes.json(StatusCodes.OK, out));
                        })));
  }
}
