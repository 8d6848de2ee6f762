using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Rpc.TestServer;

/// <summary>
/// Prints "HANDLER-STARTED key" when a call carrying <c>x-fault-key</c> enters its handler and
/// "HANDLER-CANCELLED key" when the call's token fires before the handler returns, and
/// "HANDLER-ENDED key outcome token=fired?" when it returns, so a fault test
/// can see from outside that a killed client's calls were cancelled on every call kind.
/// </summary>
internal sealed class HandlerReportingInterceptor : Interceptor
{
    public const string KeyHeader = "x-fault-key";

    /// <summary>How long after a failed handler ends its token may still take to fire.</summary>
    private static readonly TimeSpan TokenGrace = TimeSpan.FromSeconds(2);

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) =>
        ReportAsync(context, () => continuation(request, context));

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        ReportAsync(context, () => continuation(requestStream, context));

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        ReportAsync(context, async () =>
        {
            await continuation(request, responseStream, context);
            return true;
        });

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        ReportAsync(context, async () =>
        {
            await continuation(requestStream, responseStream, context);
            return true;
        });

    private static async Task<T> ReportAsync<T>(ServerCallContext context, Func<Task<T>> handler)
    {
        var key = context.RequestHeaders.GetValue(KeyHeader);
        if (key is null)
        {
            return await handler();
        }

        Console.WriteLine("HANDLER-STARTED " + key);

        // The flag keeps a token that fires only after the handler returned (call cleanup) from
        // being reported as a cancellation the handler saw.
        var finished = 0;
        using var registration = context.CancellationToken.Register(() =>
        {
            if (Volatile.Read(ref finished) == 0)
            {
                Console.WriteLine("HANDLER-CANCELLED " + key);
            }
        });
        var outcome = "ok";
        try
        {
            return await handler();
        }
        catch (Exception ex)
        {
            outcome = ex is RpcException rpc ? "RpcException " + rpc.StatusCode : ex.GetType().Name;
            throw;
        }
        finally
        {
            Volatile.Write(ref finished, 1);

            // A handler that failed may have seen the broken stream a moment before the token
            // fired: the contract is that the token fires, not that it wins that race, so give it
            // a bounded moment before reporting whether it did.
            if (outcome != "ok" && !context.CancellationToken.IsCancellationRequested)
            {
                await Task.WhenAny(Task.Delay(TokenGrace, context.CancellationToken));
            }

            Console.WriteLine($"HANDLER-ENDED {key} {outcome} token={context.CancellationToken.IsCancellationRequested}");
        }
    }
}
