using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Rpc.Transports.Diagnostics;

namespace Rpc.TestServer;

/// <summary>
/// Lets tests see the server's span from another process: records Rpc.Server's activities, and
/// stamps each unary call's trace id and parent span id into its trailers.
/// </summary>
internal sealed class TraceEchoInterceptor : Interceptor
{
    private static readonly ActivityListener Listener = new()
    {
        ShouldListenTo = source => source.Name == RpcTelemetry.ServerName,
        Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
    };

    public TraceEchoInterceptor() => ActivitySource.AddActivityListener(Listener);

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (Activity.Current is { } activity && activity.Source.Name == RpcTelemetry.ServerName)
        {
            context.ResponseTrailers.Add("x-trace-id", activity.TraceId.ToHexString());
            context.ResponseTrailers.Add("x-parent-span-id", activity.ParentSpanId.ToHexString());
            context.ResponseTrailers.Add("x-span-name", activity.OperationName);
        }

        return await continuation(request, context);
    }
}
