using Grpc.Core;
using Rpc.Server.Internal;
using Rpc.Transports;

namespace Rpc.Server.Http;

/// <summary>
/// The context a handler sees on a standard-gRPC call: Grpc.AspNetCore's own, except for the
/// cancellation token (which shutdown can also fire) and, on a connection sniffed from a local
/// listener, the peer and auth context our transport knows (pid, uid), so a handler sees the same
/// <c>Peer</c> whichever protocol the client spoke on that socket.
/// </summary>
internal sealed class HttpServerCallContext : ServerCallContext
{
    private readonly ServerCallContext _inner;
    private readonly HttpCall _call;
    private readonly ITransportConnection? _local;
    private AuthContext? _authContext;

    public HttpServerCallContext(ServerCallContext inner, HttpCall call, ITransportConnection? local)
    {
        _inner = inner;
        _call = call;
        _local = local;
    }

    protected override string MethodCore => _inner.Method;

    protected override string HostCore => _inner.Host;

    protected override string PeerCore => _local?.Peer ?? _inner.Peer;

    protected override DateTime DeadlineCore => _inner.Deadline;

    protected override Metadata RequestHeadersCore => _inner.RequestHeaders;

    protected override CancellationToken CancellationTokenCore => _call.Cancelled;

    protected override Metadata ResponseTrailersCore => _inner.ResponseTrailers;

    protected override Status StatusCore
    {
        get => _inner.Status;
        set => _inner.Status = value;
    }

    protected override WriteOptions? WriteOptionsCore
    {
        get => _inner.WriteOptions;
        set => _inner.WriteOptions = value;
    }

    protected override AuthContext AuthContextCore => _local is null ? _inner.AuthContext : _authContext ??= PeerAuthContext.Create(_local.PeerIdentity);

    // Grpc.AspNetCore keeps the HttpContext here (GetHttpContext()), so it must be the inner one's.
    protected override IDictionary<object, object> UserStateCore => _inner.UserState;

    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => _inner.CreatePropagationToken(options);

    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => _inner.WriteResponseHeadersAsync(responseHeaders);
}
