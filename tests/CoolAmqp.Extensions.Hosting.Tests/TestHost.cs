using System;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace CoolAmqp.Extensions.Hosting.Tests;

/// <summary>Builds the hosts the tests run: a real <see cref="HostApplicationBuilder"/> without the default
/// configuration sources (so the machine's environment does not leak in), with scope validation on (a scoped
/// service resolved from the root fails) and a bounded shutdown.</summary>
internal static class TestHost
{
    public static HostApplicationBuilder CreateBuilder()
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.ConfigureContainer(new DefaultServiceProviderFactory(new ServiceProviderOptions
        {
            ValidateScopes = true,
            ValidateOnBuild = true,
        }));
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        return builder;
    }
}
