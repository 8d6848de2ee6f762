using Grpc.Core;
using Rpc.Transports.Protocol;

namespace Rpc.Server.Internal;

/// <summary>A call to a path no service binds: answered with Unimplemented, as gRPC does.</summary>
internal sealed class UnimplementedCall : ServerCall
{
    private readonly string _detail;

    public UnimplementedCall(ServerCallEnvironment environment, CallStream stream, CallStart start)
        : base(environment, stream, start)
    {
        _detail = environment.Methods.DescribeMissing(start.Method);
    }

    protected override Task RunHandlerAsync() =>
        TryCompleteAsync(new OutgoingFrames { TrailersStatus = new Status(StatusCode.Unimplemented, _detail) });
}
