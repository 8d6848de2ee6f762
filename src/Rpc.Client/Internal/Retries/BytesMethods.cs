using System.Runtime.CompilerServices;
using Grpc.Core;

namespace Rpc.Client.Internal.Retries;

/// <summary>
/// The same method with requests already serialized: a retried call serializes its request once
/// and each attempt sends those bytes as they are (the marshaller hands the array over, no copy).
/// One per method, made at its first retried call and kept as long as the method object lives.
/// </summary>
internal static class BytesMethods<TResponse>
{
    private static readonly Marshaller<byte[]> Identity = Marshallers.Create(static bytes => bytes, static bytes => bytes);
    private static readonly ConditionalWeakTable<IMethod, Method<byte[], TResponse>> Methods = [];

    public static Method<byte[], TResponse> For<TRequest>(Method<TRequest, TResponse> method) =>
        Methods.GetValue(method, static m =>
        {
            var typed = (Method<TRequest, TResponse>)m;
            return new Method<byte[], TResponse>(typed.Type, typed.ServiceName, typed.Name, Identity, typed.ResponseMarshaller);
        });
}
