using System;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CoolAmqp.Extensions.Hosting;

/// <summary>Registers a CoolAmqp <see cref="Cluster"/> and hosted consumers with a host's services.</summary>
public static class CoolAmqpServiceCollectionExtensions
{
    /// <summary>
    /// Registers a <see cref="Cluster"/> singleton built from <see cref="CoolAmqpHostingOptions"/> (logging through
    /// the host's <see cref="ILoggerFactory"/>), and a hosted service that connects it when the host starts and shuts
    /// it down gracefully when the host stops (handlers in flight finish, consumers are cancelled, the connection
    /// closes, the cluster is disposed). Register it before hosted services that use the cluster at their start.
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configure">Sets the options (<see cref="CoolAmqpHostingOptions.Nodes"/> at least).</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <remarks>Options are validated when the host starts (and when the cluster is first resolved): without a node,
    /// or with an invalid one, an <see cref="OptionsValidationException"/> names the setting.</remarks>
    public static IServiceCollection AddCoolAmqp(this IServiceCollection services, Action<CoolAmqpHostingOptions>? configure = null)
    {
        if (services is null)
        {
            throw new ArgumentNullException(nameof(services));
        }

        AddCore(services);
        if (configure is not null)
        {
            services.Configure(configure);
        }

        return services;
    }

    /// <summary>
    /// Registers the cluster and its hosted service as
    /// <see cref="AddCoolAmqp(IServiceCollection, Action{CoolAmqpHostingOptions}?)"/> does, with the options bound
    /// from <paramref name="configuration"/> (e.g. <c>builder.Configuration.GetSection("CoolAmqp")</c>): its keys are
    /// the properties of <see cref="CoolAmqpHostingOptions"/> (<c>Nodes</c> an array of AMQP URIs, <c>Name</c>,
    /// <c>Heartbeat</c> in seconds, <c>RpcTimeout</c> as <c>hh:mm:ss</c>, ...), and <c>Consumers:&lt;queue&gt;</c> sets
    /// the <see cref="CoolAmqpConsumerOptions"/> of the hosted consumer of that queue (over what the code set).
    /// </summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">The configuration section.</param>
    /// <param name="configure">Sets more options in code, after the binding (e.g.
    /// <see cref="CoolAmqpHostingOptions.ConfigureCluster"/>).</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddCoolAmqp(this IServiceCollection services, IConfiguration configuration,
        Action<CoolAmqpHostingOptions>? configure = null)
    {
        if (services is null)
        {
            throw new ArgumentNullException(nameof(services));
        }

        if (configuration is null)
        {
            throw new ArgumentNullException(nameof(configuration));
        }

        AddCore(services);
        services.AddSingleton(new HostingConfigurationSection((configuration as IConfigurationSection)?.Path ?? string.Empty));
        services.Configure<CoolAmqpHostingOptions>(configuration);
        services.AddSingleton<IPostConfigureOptions<CoolAmqpConsumerOptions>>(new ConsumerConfiguration(configuration));
        if (configure is not null)
        {
            services.Configure(configure);
        }

        return services;
    }

    /// <summary>
    /// Adds a hosted consumer of <paramref name="queue"/>: while the host runs, each message is handed to a
    /// <typeparamref name="THandler"/> resolved from a new scope (registered as scoped here unless it already is
    /// registered), acknowledged when the handler succeeds, and on an exception settled as
    /// <see cref="CoolAmqpConsumerOptions.OnHandlerError"/> says (default: rejected without requeue, so dead-lettered
    /// if the queue has a dead-letter exchange). The handler's token fires when the host stops; a message whose
    /// handler fails after that is left to the broker to requeue. Also registers what
    /// <see cref="AddCoolAmqp(IServiceCollection, Action{CoolAmqpHostingOptions}?)"/> does, without options.
    /// </summary>
    /// <typeparam name="THandler">The handler.</typeparam>
    /// <param name="services">The host's services.</param>
    /// <param name="queue">The queue's name.</param>
    /// <param name="configure">Sets the consumer's options (configuration under <c>Consumers:&lt;queue&gt;</c>
    /// wins over these).</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentException"><paramref name="queue"/> is empty.</exception>
    /// <exception cref="InvalidOperationException">A hosted consumer of <paramref name="queue"/> is already registered.</exception>
    public static IServiceCollection AddCoolAmqpConsumer<THandler>(this IServiceCollection services, string queue,
        Action<CoolAmqpConsumerOptions>? configure = null)
        where THandler : class, IMessageHandler
    {
        if (services is null)
        {
            throw new ArgumentNullException(nameof(services));
        }

        if (queue is null)
        {
            throw new ArgumentNullException(nameof(queue));
        }

        if (queue.Length == 0)
        {
            throw new ArgumentException("A hosted consumer needs a queue name (server-named queues are not supported).", nameof(queue));
        }

        foreach (ServiceDescriptor descriptor in services)
        {
            if (descriptor.ServiceType == typeof(ConsumerRegistration) &&
                descriptor.ImplementationInstance is ConsumerRegistration existing && existing.Queue == queue)
            {
                throw new InvalidOperationException(
                    $"A hosted consumer of queue '{queue}' is already registered (with {existing.HandlerType.Name}).");
            }
        }

        AddCore(services);
        services.TryAddScoped<THandler>();
        services.AddSingleton(new ConsumerRegistration(queue, typeof(THandler)));
        OptionsBuilder<CoolAmqpConsumerOptions> options = services.AddOptions<CoolAmqpConsumerOptions>(queue);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        return services;
    }

    private static void AddCore(IServiceCollection services)
    {
        services.AddOptions<CoolAmqpHostingOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor
            .Singleton<IValidateOptions<CoolAmqpHostingOptions>, CoolAmqpHostingOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor
            .Singleton<IValidateOptions<CoolAmqpConsumerOptions>, CoolAmqpConsumerOptionsValidator>());
        services.TryAddSingleton(static provider => ClusterFactory.Create(
            provider.GetRequiredService<IOptions<CoolAmqpHostingOptions>>().Value, provider.GetService<ILoggerFactory>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, CoolAmqpHostedService>());
    }
}
