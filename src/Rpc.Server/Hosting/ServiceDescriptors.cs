using System.Reflection;
using Rpc.Server.Internal;
using ProtoServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;

namespace Rpc.Server.Hosting;

/// <summary>Finds a generated service's protobuf descriptor, for reflection and health's service names.</summary>
internal static class ServiceDescriptors
{
    /// <summary>
    /// The <c>Descriptor</c> that Grpc.Tools puts on the static class beside the service's
    /// <c>BindService</c>; null for a service generated without one (another code generator).
    /// </summary>
    public static ProtoServiceDescriptor? Find(Type serviceType) =>
        ServiceBinder.FindBindType(serviceType).GetProperty("Descriptor", BindingFlags.Public | BindingFlags.Static)?.GetValue(null) as ProtoServiceDescriptor;

    /// <summary>The descriptors of every service the builder added, in the order added, each once.</summary>
    public static List<ProtoServiceDescriptor> Of(RpcServerRegistrations registrations) =>
        [.. registrations.Services.Select(s => Find(s.ServiceType)).OfType<ProtoServiceDescriptor>().DistinctBy(d => d.FullName)];
}
