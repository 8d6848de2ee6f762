using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using Rpc.Cli.Protobuf;

namespace Rpc.Cli.Commands;

/// <summary>One call of any kind with encoded requests; responses are decoded and written as they arrive.</summary>
internal static class DynamicCall
{
    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);

    public static async Task<int> RunAsync(CallInvoker invoker, MethodDescriptor descriptor, List<byte[]> requests, CallSettings settings, ToolIO io, CancellationToken cancellationToken)
    {
        var type = (descriptor.IsClientStreaming, descriptor.IsServerStreaming) switch
        {
            (false, false) => MethodType.Unary,
            (false, true) => MethodType.ServerStreaming,
            (true, false) => MethodType.ClientStreaming,
            _ => MethodType.DuplexStreaming,
        };
        var method = new Method<byte[], byte[]>(type, descriptor.Service.FullName, descriptor.Name, Bytes, Bytes);
        var options = settings.ToCallOptions(cancellationToken);
        Func<Status> status;
        Func<Metadata> trailers;
        try
        {
            switch (type)
            {
                case MethodType.Unary:
                {
                    using var call = invoker.AsyncUnaryCall(method, null, options, requests[0]);
                    (status, trailers) = (call.GetStatus, call.GetTrailers);
                    await WriteAsync(io, descriptor, await call.ResponseAsync.ConfigureAwait(false)).ConfigureAwait(false);
                    break;
                }

                case MethodType.ServerStreaming:
                {
                    using var call = invoker.AsyncServerStreamingCall(method, null, options, requests[0]);
                    (status, trailers) = (call.GetStatus, call.GetTrailers);
                    await ReadAllAsync(call.ResponseStream, descriptor, io, cancellationToken).ConfigureAwait(false);
                    break;
                }

                case MethodType.ClientStreaming:
                {
                    using var call = invoker.AsyncClientStreamingCall(method, null, options);
                    (status, trailers) = (call.GetStatus, call.GetTrailers);
                    await SendAllAsync(call.RequestStream, requests).ConfigureAwait(false);
                    await WriteAsync(io, descriptor, await call.ResponseAsync.ConfigureAwait(false)).ConfigureAwait(false);
                    break;
                }

                default:
                {
                    using var call = invoker.AsyncDuplexStreamingCall(method, null, options);
                    (status, trailers) = (call.GetStatus, call.GetTrailers);
                    // Requests go out while responses are read, so a server that answers each one as it comes does not stall.
                    var sending = SendAllAsync(call.RequestStream, requests);
                    await ReadAllAsync(call.ResponseStream, descriptor, io, cancellationToken).ConfigureAwait(false);
                    await sending.ConfigureAwait(false);
                    break;
                }
            }
        }
        catch (RpcException e)
        {
            return await ReportAsync(io, e.Status, e.Trailers).ConfigureAwait(false);
        }

        return await ReportAsync(io, status(), trailers()).ConfigureAwait(false);
    }

    private static async Task SendAllAsync(IClientStreamWriter<byte[]> stream, List<byte[]> requests)
    {
        foreach (var request in requests)
        {
            await stream.WriteAsync(request).ConfigureAwait(false);
        }

        await stream.CompleteAsync().ConfigureAwait(false);
    }

    private static async Task ReadAllAsync(IAsyncStreamReader<byte[]> stream, MethodDescriptor descriptor, ToolIO io, CancellationToken cancellationToken)
    {
        while (await stream.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            await WriteAsync(io, descriptor, stream.Current).ConfigureAwait(false);
        }
    }

    private static async Task WriteAsync(ToolIO io, MethodDescriptor descriptor, byte[] response)
    {
        string json;
        try
        {
            json = ProtoToJson.Format(descriptor.OutputType, response);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new ToolException(ExitCodes.Internal, $"A response is not a valid {descriptor.OutputType.FullName}: {e.Message}");
        }

        await io.Out.WriteLineAsync(json).ConfigureAwait(false);
        await io.Out.FlushAsync().ConfigureAwait(false);
    }

    private static async Task<int> ReportAsync(ToolIO io, Status status, Metadata trailers)
    {
        await io.Error.WriteLineAsync(string.IsNullOrEmpty(status.Detail)
            ? $"Status: {status.StatusCode} ({(int)status.StatusCode})"
            : $"Status: {status.StatusCode} ({(int)status.StatusCode}): {status.Detail}").ConfigureAwait(false);
        foreach (var trailer in trailers)
        {
            await io.Error.WriteLineAsync($"{trailer.Key}: {(trailer.IsBinary ? Convert.ToBase64String(trailer.ValueBytes) : trailer.Value)}").ConfigureAwait(false);
        }

        return (int)status.StatusCode;
    }
}
