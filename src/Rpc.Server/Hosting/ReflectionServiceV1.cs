using Google.Protobuf;
using Grpc.Core;
using Grpc.Reflection;
using V1 = Grpc.Reflection.V1;
using V1Alpha = Grpc.Reflection.V1Alpha;

namespace Rpc.Server.Hosting;

/// <summary>
/// grpc.reflection.v1, which Grpc.Reflection defines but implements only as v1alpha: the two
/// protocols' messages are the same fields with the same numbers, so each message is carried
/// across by its bytes and <see cref="ReflectionServiceImpl"/> answers both.
/// </summary>
internal sealed class ReflectionServiceV1(ReflectionServiceImpl inner) : V1.ServerReflection.ServerReflectionBase
{
    public override Task ServerReflectionInfo(IAsyncStreamReader<V1.ServerReflectionRequest> requestStream, IServerStreamWriter<V1.ServerReflectionResponse> responseStream, ServerCallContext context) =>
        inner.ServerReflectionInfo(new Requests(requestStream), new Responses(responseStream), context);

    private sealed class Requests(IAsyncStreamReader<V1.ServerReflectionRequest> requests) : IAsyncStreamReader<V1Alpha.ServerReflectionRequest>
    {
        public V1Alpha.ServerReflectionRequest Current { get; private set; } = null!;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            if (!await requests.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            Current = V1Alpha.ServerReflectionRequest.Parser.ParseFrom(requests.Current.ToByteString());
            return true;
        }
    }

    private sealed class Responses(IServerStreamWriter<V1.ServerReflectionResponse> responses) : IServerStreamWriter<V1Alpha.ServerReflectionResponse>
    {
        public WriteOptions? WriteOptions
        {
            get => responses.WriteOptions;
            set => responses.WriteOptions = value;
        }

        public Task WriteAsync(V1Alpha.ServerReflectionResponse message) =>
            responses.WriteAsync(V1.ServerReflectionResponse.Parser.ParseFrom(message.ToByteString()));
    }
}
