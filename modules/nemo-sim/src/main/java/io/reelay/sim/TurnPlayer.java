package io.reelay.sim;

import java.io.IOException;
import java.time.Duration;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Plays a {@link Turn} on the scheduler (no thread blocks while the agent "works") and feeds the
 * SSE bytes into a bounded queue the HTTP response streams from. The turn runs to its end even when
 * the client disconnects or the stream is cut by a fault: like the real backend, the work and the
 * credits are not undone by a dropped connection. Beats run strictly one after another.
 */
final class TurnPlayer {

  private static final Logger log = LoggerFactory.getLogger(TurnPlayer.class);

  /** No cut: the stream closes at the end of the turn. */
  static final int NO_CUT = -1;

  /** The stream ended abruptly on purpose (faults {@code stream-cut}, {@code lost-answer}). */
  static final class StreamCut extends IOException {
    StreamCut() {
      super("stream cut by fault injection", null);
    }
  }

  private final ActorSystem<?> system;
  private final Turn turn;
  private final SseWire wire;
  private final Duration heartbeatInterval;
  private final int cutAfterBeat;
  private final BoundedSourceQueue<ByteString> queue;
  private final Source<ByteString, ?> source;
  private boolean cut;
  /** The client went away: a hanging stream stops its heartbeats (a finite turn plays on regardless). */
  private volatile boolean clientGone;

  /** @param cutAfterBeat index of the beat after which the connection is cut, or {@link #NO_CUT} */
  TurnPlayer(ActorSystem<?> system, Turn turn, SseWire wire, Duration heartbeatInterval, int cutAfterBeat) {
    this.system = system;
    this.turn = turn;
    this.wire = wire;
    this.heartbeatInterval = heartbeatInterval;
    this.cutAfterBeat = cutAfterBeat;
    // a turn emits a few dozen events plus heartbeats; more than this unread means nobody is reading
    var pair = Source.<ByteString>queue(4096).preMaterialize(system);
    this.queue = pair.first();
    this.source = pair.second();
  }

  /** The response body; materialise it once. */
  Source<ByteString, ?> source() {
    return source;
  }

  void start() {
    beat(0);
  }

  /**
   * Plays the turn for nobody (fault {@code lost-answer}): the work, the state changes and the credits
   * happen exactly as in {@link #start}, but not one of its bytes is sent; {@link #source} goes unused.
   */
  void startUnheard() {
    cut = true;
    source.runWith(Sink.cancelled(), system);
    beat(0);
  }

  /**
   * What the client of a lost answer reads instead of {@link #source}: the stream starts (headers, one
   * heartbeat) and drops a heartbeat interval later, before any event of the turn.
   */
  Source<ByteString, NotUsed> lostStream() {
    return Source.single(wire.encode(AgentEvent.Heartbeat.INSTANCE))
        .concat(Source.single(ByteString.emptyByteString()).initialDelay(heartbeatInterval).map(nothing -> {
          throw new StreamCut();
        }));
  }

  /** The response stream terminated (client disconnected, stream completed or cut). */
  void clientGone() {
    clientGone = true;
  }

  private void beat(int index) {
    if (index >= turn.beats().size()) {
      if (turn.ending() == Turn.Ending.HANG && !cut) {
        hang();
      } else if (!cut) {
        end(null); // end of turn = end of stream: ADK sends no sentinel
      }
      return;
    }
    Turn.Beat beat = turn.beats().get(index);
    waitThen(beat.delay(), () -> {
      try {
        for (AgentEvent e : beat.act().get()) {
          offer(wire.encode(e));
          if (e instanceof AgentEvent.StreamError) {
            // ADK: after {"error":…} the server closes the stream; nothing else follows
            if (!cut) end(null);
            cut = true;
            return;
          }
        }
      } catch (RuntimeException e) {
        log.error("agent turn failed at beat {}", index, e);
        if (!cut) end(e);
        cut = true;
        return;
      }
      if (index == cutAfterBeat && !cut) {
        cut = true;
        end(new StreamCut());
      }
      beat(index + 1);
    });
  }

  /** Heartbeats only, never closing, until the client goes away (ADK issue #4216: the stream does not close). */
  private void hang() {
    if (clientGone) return;
    schedule(heartbeatInterval, () -> {
      if (clientGone) return;
      offer(wire.encode(AgentEvent.Heartbeat.INSTANCE));
      hang();
    });
  }

  /** Waits {@code total}, sending a heartbeat every heartbeat interval while it does, then runs {@code next}. */
  private void waitThen(Duration total, Runnable next) {
    if (total.compareTo(heartbeatInterval) <= 0) {
      schedule(total, next);
    } else {
      schedule(heartbeatInterval, () -> {
        offer(wire.encode(AgentEvent.Heartbeat.INSTANCE));
        waitThen(total.minus(heartbeatInterval), next);
      });
    }
  }

  private void schedule(Duration delay, Runnable task) {
    system.scheduler().scheduleOnce(delay, task, system.executionContext());
  }

  /** Completes (or fails) the response stream, unless the client closed it first. */
  private void end(Throwable failure) {
    try {
      if (failure == null) {
        queue.complete();
      } else {
        queue.fail(failure);
      }
    } catch (IllegalStateException alreadyClosed) {
      // the client went away first (its side completed the queue): nobody is left to tell
    }
  }

  private void offer(ByteString bytes) {
    // Enqueued, or the listener is gone / too slow: the turn goes on regardless
    if (!cut) queue.offer(bytes);
  }
}
