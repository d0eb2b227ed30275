package io.reelay.sim;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.ExceptionHandler;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.settings.ServerSettings;

/**
 * The NemoVideo backend simulator: a pekko-http server answering the endpoints of nemo-api.md with
 * the vendor's envelopes, an agent that streams ADK events over /run_sse, render jobs that produce
 * real MP4s, and an admin API for counters and fault injection.
 */
public final class NemoSim {

  private final ServerBinding binding;
  private final NemoBackend backend;
  private final String baseUrl;

  private NemoSim(ServerBinding binding, NemoBackend backend, String baseUrl) {
    this.binding = binding;
    this.backend = backend;
    this.baseUrl = baseUrl;
  }

  /** Binds the simulator on {@code settings.host():settings.port()} (0 = a free port). */
  public static CompletionStage<NemoSim> start(ActorSystem<?> system, SimSettings settings) {
    return start(system, settings, Clock.systemUTC(), Delays.scheduler(system));
  }

  /** With the clock that tokens and sessions expire by, and what holds answers back (tests). */
  static CompletionStage<NemoSim> start(ActorSystem<?> system, SimSettings settings, Clock clock, Delays delays) {
    Mp4Renderer renderer = new Mp4Renderer(settings.cacheDir(), settings.videoWidth(), settings.videoHeight(),
        settings.renderThreads(), settings.renderMode());
    NemoBackend backend = new NemoBackend(settings, renderer, clock, delays);
    ServerSettings server = ServerSettings.create(system.classicSystem())
        .withMaxConnections(settings.server().maxConnections())
        .withBacklog(settings.server().backlog())
        // the peer address for the per-address token cap (X-Forwarded-For wins when present)
        .withRemoteAddressAttribute(true)
        .withTimeouts(ServerSettings.create(system.classicSystem()).getTimeouts()
            .withIdleTimeout(scala.concurrent.duration.FiniteDuration.create(
                settings.server().idleTimeout().toMillis(), TimeUnit.MILLISECONDS)));
    return Http.get(system).newServerAt(settings.host(), settings.port())
        .withSettings(server)
        .bind(routes(backend, system))
        .thenApply(binding -> {
          String bound = "http://" + hostForUrl(settings.host()) + ":" + binding.localAddress().getPort();
          backend.publicBaseUrl(settings.publicBaseUrl().orElse(bound));
          binding.addToCoordinatedShutdown(Duration.ofSeconds(5), system);
          return new NemoSim(binding, backend, bound);
        })
        .whenComplete((sim, e) -> { if (e != null) renderer.close(); });
  }

  static Route routes(NemoBackend backend, ActorSystem<?> system) {
    AllDirectives d = new AllDirectives() {};
    Route all = d.concat(
        new AdminRoutes(backend, system).route(),
        new AgentRoutes(backend, system).route(),
        new SessionRoutes(backend, system).route(),
        new UploadRoutes(backend, system).route(),
        new RenderRoutes(backend, system).route());
    // unknown paths and methods get the envelope too, as a gateway in front of ADK would answer
    RejectionHandler rejections = RejectionHandler.newBuilder()
        .handleNotFound(d.complete(SimRoutes.envelopeError(StatusCodes.NOT_FOUND, 404, "Not Found")))
        .build()
        .withFallback(RejectionHandler.defaultHandler());
    ExceptionHandler errors = ExceptionHandler.newBuilder()
        .matchAny(e -> d.complete(SimRoutes.envelopeError(StatusCodes.INTERNAL_SERVER_ERROR, 500, "internal server error")))
        .build();
    return all.seal(rejections, errors);
  }

  public int port() {
    return binding.localAddress().getPort();
  }

  /** {@code http://127.0.0.1:PORT}: where clients reach the API. */
  public String baseUrl() {
    return baseUrl;
  }

  /** Stops accepting, gives open streams a moment, then stops the encoders. */
  public CompletionStage<Done> stop() {
    return binding.terminate(Duration.ofSeconds(3))
        .thenApply(t -> {
          backend.renderer.close();
          return Done.getInstance();
        });
  }

  /** Standalone: {@code nemo-sim} config from application.conf / reference.conf / environment. */
  public static void main(String[] args) throws Exception {
    Config config = ConfigFactory.load();
    SimSettings settings = SimSettings.from(config.getConfig("nemo-sim"));
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "nemo-sim", config);
    NemoSim sim = start(system, settings).toCompletableFuture().get();
    System.out.println("nemo-sim listening on " + sim.baseUrl() + " (time-scale " + settings.timeScale() + ")");
    Runtime.getRuntime().addShutdownHook(new Thread(system::terminate, "nemo-sim-shutdown"));
  }

  private static String hostForUrl(String host) {
    if (host.equals("0.0.0.0") || host.isBlank()) return "127.0.0.1";
    return host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
  }
}
