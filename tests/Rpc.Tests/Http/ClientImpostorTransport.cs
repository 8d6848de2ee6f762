using System.IO.Pipelines;
using Rpc.Transports;

namespace Rpc.Tests.Http;

/// <summary>
/// Wraps a real transport and reports another user than the kernel does for every connection it
/// opens: a stand-in for an endpoint some other user took over, to show the client's second uid
/// check (the connected peer must be the advertised user) without a second account.
/// </summary>
internal sealed class ClientImpostorTransport : ITransport
{
    private readonly ITransport _inner;
    private readonly uint _reportedUserId;

    public ClientImpostorTransport(ITransport inner, uint reportedUserId)
    {
        _inner = inner;
        _reportedUserId = reportedUserId;
    }

    public int Connects;

    public IReadOnlyCollection<string> Schemes => _inner.Schemes;

    public void Validate(TransportAddress address) => _inner.Validate(address);

    public ValueTask<ITransportListener> BindAsync(TransportAddress address, ListenOptions options, CancellationToken cancellationToken) =>
        _inner.BindAsync(address, options, cancellationToken);

    public async ValueTask<ITransportConnection> ConnectAsync(TransportAddress address, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Connects);
        var connection = await _inner.ConnectAsync(address, cancellationToken);
        return new Impostor(connection, new PeerIdentity { UserId = _reportedUserId, GroupId = _reportedUserId });
    }

    private sealed class Impostor : ITransportConnection
    {
        private readonly ITransportConnection _inner;

        public Impostor(ITransportConnection inner, PeerIdentity identity)
        {
            _inner = inner;
            PeerIdentity = identity;
        }

        public IDuplexPipe Transport => _inner.Transport;

        public string Peer => _inner.Peer;

        public PeerIdentity? PeerIdentity { get; }

        public void Abort(Exception? reason = null) => _inner.Abort(reason);

        public ValueTask DisposeAsync() => _inner.DisposeAsync();
    }
}
