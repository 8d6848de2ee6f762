using Grpc.Core;
using Rpc.Transports.Protocol;

namespace Rpc.Server.Internal;

/// <summary>The <see cref="ServerCallContext"/> handlers see; the call behind it does the work.</summary>
internal sealed class RpcServerCallContext : ServerCallContext
{
    private readonly ServerCall _call;
    private readonly MultiplexedConnection _connection;
    private Metadata? _responseTrailers;
    private AuthContext? _authContext;

    public RpcServerCallContext(ServerCall call, string method, MultiplexedConnection connection, DateTime deadline, Metadata requestHeaders)
    {
        _call = call;
        _connection = connection;
        MethodCore = method;
        DeadlineCore = deadline;
        RequestHeadersCore = requestHeaders;
    }

    protected override string MethodCore { get; }

    protected override string HostCore => "localhost";

    // The transport builds the peer string (for example unix:pid=123,uid=1000) once per connection.
    protected override string PeerCore => _connection.Peer;

    protected override DateTime DeadlineCore { get; }

    protected override Metadata RequestHeadersCore { get; }

    protected override CancellationToken CancellationTokenCore => _call.CallCancelled;

    protected override Metadata ResponseTrailersCore => _responseTrailers ??= [];

    protected override Status StatusCore { get; set; }

    protected override WriteOptions? WriteOptionsCore { get; set; }

    // Made when a handler asks: most never do.
    protected override AuthContext AuthContextCore => _authContext ??= PeerAuthContext.Create(_connection.PeerIdentity);

    /// <summary>The trailers, without creating them when the handler never touched them.</summary>
    internal Metadata? ResponseTrailersIfAny => _responseTrailers;

    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) =>
        throw new NotSupportedException("Context propagation tokens are a Grpc.Core feature; pass this context's Deadline and CancellationToken to outgoing calls instead.");

    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => _call.WriteResponseHeadersAsync(responseHeaders);
}
