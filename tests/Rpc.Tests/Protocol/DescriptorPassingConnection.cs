using System.IO.Pipelines;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Win32.SafeHandles;
using Rpc.Tests.Infrastructure;
using Rpc.Transports;
using Rpc.Transports.Internal;

namespace Rpc.Tests.Protocol;

/// <summary>
/// An in-memory connection that also passes descriptors, as unix:// and shm:// do: within one
/// process a handle passes as it is. A descriptor sent goes into the peer's queue at once, before
/// any byte written after it, which is the contract's ordering.
/// </summary>
internal sealed class DescriptorPassingConnection : ITransportConnection, IDescriptorChannel
{
    private readonly InMemoryConnection _inner;
    private readonly ConcurrentQueue<SafeFileHandle> _incoming;
    private readonly ConcurrentQueue<SafeFileHandle> _outgoing;
    private IDuplexPipe? _transport;

    private DescriptorPassingConnection(InMemoryConnection inner, ConcurrentQueue<SafeFileHandle> incoming, ConcurrentQueue<SafeFileHandle> outgoing, int threshold)
    {
        _inner = inner;
        _incoming = incoming;
        _outgoing = outgoing;
        MappedPayloadThreshold = threshold;
    }

    public IDuplexPipe Transport => _transport ??= new HookedPipe(this);

    /// <summary>Runs after each flush of this side's output, before the flush returns to the writer: lets a test act in that window.</summary>
    public Func<ValueTask>? AfterFlush { get; set; }

    public string Peer => _inner.Peer;

    public PeerIdentity? PeerIdentity => null;

    public int MappedPayloadThreshold { get; }

    /// <summary>Descriptors sent by this side and not yet taken by the peer.</summary>
    public int InFlight => _outgoing.Count;

    /// <summary>Hands the peer a descriptor outside the protocol, as a hostile peer could.</summary>
    public void Inject(SafeFileHandle descriptor) => _outgoing.Enqueue(descriptor);

    public static (DescriptorPassingConnection Client, DescriptorPassingConnection Server) CreatePair(int threshold = 64 * 1024)
    {
        var (client, server) = InMemoryConnection.CreatePair();
        var toServer = new ConcurrentQueue<SafeFileHandle>();
        var toClient = new ConcurrentQueue<SafeFileHandle>();
        return (new DescriptorPassingConnection(client, toClient, toServer, threshold), new DescriptorPassingConnection(server, toServer, toClient, threshold));
    }

    /// <summary>Makes <see cref="SendDescriptor"/> fail as a broken medium's does: the descriptor closed, an IOException.</summary>
    public bool FailSends { get; set; }

    public void SendDescriptor(SafeFileHandle descriptor)
    {
        if (FailSends)
        {
            descriptor.Dispose();
            throw new IOException("The medium cannot carry descriptors any more.");
        }

        _outgoing.Enqueue(descriptor);
    }

    public bool TryReceiveDescriptor([NotNullWhen(true)] out SafeFileHandle? descriptor) => _incoming.TryDequeue(out descriptor);

    public void Abort(Exception? reason = null) => _inner.Abort(reason);

    public ValueTask DisposeAsync()
    {
        while (_incoming.TryDequeue(out var left))
        {
            left.Dispose();
        }

        return _inner.DisposeAsync();
    }

    private sealed class HookedPipe(DescriptorPassingConnection owner) : IDuplexPipe
    {
        public PipeReader Input => owner._inner.Transport.Input;

        public PipeWriter Output { get; } = new HookedWriter(owner);
    }

    private sealed class HookedWriter(DescriptorPassingConnection owner) : PipeWriter
    {
        private PipeWriter Inner => owner._inner.Transport.Output;

        public override void Advance(int bytes) => Inner.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => Inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => Inner.GetSpan(sizeHint);

        public override long UnflushedBytes => Inner.UnflushedBytes;

        public override bool CanGetUnflushedBytes => Inner.CanGetUnflushedBytes;

        public override void CancelPendingFlush() => Inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => Inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => Inner.CompleteAsync(exception);

        public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            var result = await Inner.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (owner.AfterFlush is { } hook)
            {
                await hook().ConfigureAwait(false);
            }

            return result;
        }
    }
}
