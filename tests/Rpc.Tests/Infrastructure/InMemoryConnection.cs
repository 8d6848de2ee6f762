using System.IO.Pipelines;
using Rpc.Transports;

namespace Rpc.Tests.Infrastructure;

/// <summary>Two ends of an in-memory byte stream, for protocol tests without sockets.</summary>
public sealed class InMemoryConnection : ITransportConnection
{
    private readonly IDuplexPipe _pipe;
    private readonly Pipe _incoming;
    private readonly Pipe _outgoing;
    private int _released;

    private InMemoryConnection(Pipe incoming, Pipe outgoing, string peer)
    {
        _incoming = incoming;
        _outgoing = outgoing;
        _pipe = new DuplexPipe(incoming.Reader, outgoing.Writer);
        Peer = peer;
    }

    public IDuplexPipe Transport => _pipe;

    public string Peer { get; }

    public PeerIdentity? PeerIdentity => null;

    /// <summary>Whether <see cref="DisposeAsync"/> or <see cref="Abort"/> released this end.</summary>
    public bool IsReleased => Volatile.Read(ref _released) == 1;

    /// <summary>The bytes written to this end that the peer has not read yet (the peer's input).</summary>
    public PipeReader PeerInput => _outgoing.Reader;

    public static (InMemoryConnection Client, InMemoryConnection Server) CreatePair()
    {
        // The writer never pauses, as the transport contract requires.
        var options = new PipeOptions(pauseWriterThreshold: 0, useSynchronizationContext: false);
        var toServer = new Pipe(options);
        var toClient = new Pipe(options);
        return (new InMemoryConnection(toClient, toServer, "memory:server"), new InMemoryConnection(toServer, toClient, "memory:client"));
    }

    public void Abort(Exception? reason = null)
    {
        Volatile.Write(ref _released, 1);
        _outgoing.Writer.Complete(reason);
        _incoming.Writer.Complete(reason);
    }

    public ValueTask DisposeAsync()
    {
        Volatile.Write(ref _released, 1);
        _outgoing.Writer.Complete();
        _incoming.Reader.Complete();
        return ValueTask.CompletedTask;
    }

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
