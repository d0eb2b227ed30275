package io.reelay.status;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.reelay.protocol.Json;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;

/** {@code /v1/sessions/{sessionKey}}: the caller's requests of one session, latest first. */
final class SessionRoutes extends AllDirectives {

  private final StatusQueries view;
  private final StatusSettings settings;

  SessionRoutes(StatusQueries view, StatusSettings settings) {
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
                        limit ->
                            parameterOptional(
                                "after",
                                after -> {
                                  String from = RequestRoutes.cursor(after);
                                  return onSuccess(
                                      view.list(tenant, sessionKey, null, from, RequestRoutes.limit(limit, settings)),
                                      page -> {
                                        if (page.items().isEmpty() && from == null) {
                                          return complete(ApiErrors.notFound("no session " + sessionKey));
                                        }
                                        ObjectNode out = Json.mapper().createObjectNode();
                                        out.put("sessionKey", sessionKey);
                                        out.setAll(RequestRoutes.pageJson(page));
                                        return complete(RequestRoutes.json(StatusCodes.OK, out));
                                      });
                                }))));
  }
}
